import json
from pathlib import Path

import pytest

from qa.core.errors import DataFormatError, InputError
from qa.core.settings import Settings
from retrieval.docstore import SQLiteDocStore
from retrieval.documents import discover, html_to_text, read_documents
from retrieval.index_dir import DOCSTORE, Manifest, is_complete
from retrieval.ingest import add_passages, delete_passages, index_path, passages_from_path
from retrieval.passage import Passage


def test_each_file_type(corpus_dir: Path, settings: Settings) -> None:
    passages = {p.id: p for p in passages_from_path(corpus_dir, settings)}
    name = corpus_dir.name
    md = passages[f"{name}/eiffel.md#0"]
    assert md.title == "Eiffel Tower" and "1889" in md.text and md.source == f"{name}/eiffel.md"
    html = passages[f"{name}/cats.html#0"]
    assert html.title == "Cats" and "carnivorous mammal & a pet" in html.text
    assert "secret" not in html.text and "color" not in html.text
    assert passages["moon#0"].title == "Moon" and passages["moon#0"].source == f"{name}/moon.jsonl:1"
    zurich = passages[f"{name}/moon.jsonl:2#0"]
    assert zurich.title == "Zürich" and "über 400,000" in zurich.text
    assert passages[f"{name}/sub/python.txt#0"].title == "python"
    assert not any("hidden" in p.id or "csv" in p.id for p in passages.values())


def test_long_text_is_chunked_with_title(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "long.txt").write_text(" ".join(f"Word{i} is here." for i in range(200)), encoding="utf-8")
    passages = passages_from_path(tmp_path / "long.txt", settings)
    assert len(passages) > 3 and all(len(p.text) <= settings.chunk_chars for p in passages)
    assert {p.title for p in passages} == {"long"} and {p.source for p in passages} == {"long.txt"}


def test_non_utf8_file_is_a_clear_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café crème".encode("latin-1"))
    with pytest.raises(InputError, match="latin1.txt is not UTF-8"):
        list(read_documents(bad, "latin1.txt"))


def test_binary_and_utf16_files_are_refused_not_indexed(tmp_path: Path) -> None:
    """A file of NUL bytes is valid UTF-8: it was indexed as three passages of NULs, exit 0."""
    (tmp_path / "zeros.txt").write_bytes(b"\x00" * 3000)
    with pytest.raises(InputError, match="zeros.txt looks binary"):
        list(read_documents(tmp_path / "zeros.txt", "zeros.txt"))
    (tmp_path / "wide.txt").write_bytes("hi there".encode("utf-16"))
    with pytest.raises(InputError, match="wide.txt is UTF-16 text"):
        list(read_documents(tmp_path / "wide.txt", "wide.txt"))


def test_a_name_that_is_not_utf8_is_refused_before_encoding(tmp_path: Path) -> None:
    """It was a UnicodeEncodeError traceback from the passage store, after the encoding had run."""
    import os

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "ok.txt").write_text("Zebras are striped.", encoding="utf-8")
    odd = os.fsdecode(os.fsencode(folder) + b"/caf\xe9.txt")
    Path(odd).write_text("Odd.", encoding="utf-8")
    with pytest.raises(InputError, match=r"the name .*caf\\xe9.txt is not UTF-8 text"):
        discover(folder)


def test_a_folder_given_as_dot_names_its_passages_by_its_own_name(tmp_path: Path, monkeypatch) -> None:
    """`qa index .` gave ids "/a.txt" and `qa index ..` "../a.txt": the same folder's passages had
    other ids (which the API deletes by) depending on how its path was typed."""
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Zebras are striped.", encoding="utf-8")
    monkeypatch.chdir(folder)
    assert [rel for _, rel in discover(".")] == ["notes/a.txt"]
    monkeypatch.chdir(folder / "sub")
    assert [rel for _, rel in discover("..")] == ["notes/a.txt"]


def test_what_a_folder_holds_besides_documents_is_counted_and_an_unreadable_folder_is_an_error(
        tmp_path: Path, caplog) -> None:
    """Files of other types, linked folders and dangling links were dropped without a word, and
    an unreadable subfolder too (its documents missing from an index said to be complete)."""
    import os

    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Zebras are striped.", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("# B\nBees buzz.", encoding="utf-8")
    (folder / "report.pdf").write_bytes(b"%PDF")
    (folder / ".hidden.txt").write_text("secret", encoding="utf-8")
    (folder / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "elsewhere").mkdir()
    (folder / "linked").symlink_to(tmp_path / "elsewhere")
    with caplog.at_level("WARNING", logger="qa.index"):
        assert [rel for _, rel in discover(folder)] == ["docs/a.txt", "docs/sub/b.md"]
    assert all(w in caplog.text for w in ("skipped ", "1 .pdf file,", "1 link that leads nowhere", "1 linked folder",
                                          "1 hidden file or folder (its name starts with '.')"))
    (folder / "b.pdf").write_bytes(b"%PDF")
    (folder / ".obsidian").mkdir()
    caplog.clear()
    with caplog.at_level("WARNING", logger="qa.index"):
        discover(folder)
    assert "2 .pdf files" in caplog.text and "2 hidden files and folders" in caplog.text
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("Zebras are striped.", encoding="utf-8")
    caplog.clear()
    with caplog.at_level("WARNING", logger="qa.index"):
        discover(plain)
    assert "skipped" not in caplog.text  # "skipped 0 linked folders" was said of every folder
    (folder / "loop").symlink_to(folder / "loop")
    with pytest.raises(InputError, match="a link that leads nowhere"):
        discover(folder / "loop")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="neither a file nor a folder"):
        discover(tmp_path / "pipe")


def test_an_unreadable_subfolder_stops_the_index(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "docs"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.txt").write_text("Zebras are striped.", encoding="utf-8")
    (folder / "locked").chmod(0)
    try:
        if not os.access(folder / "locked", os.R_OK):
            with pytest.raises(InputError, match="cannot read the folder .*locked"):
                discover(folder)
            return
        if shutil.which("setpriv") is None:
            pytest.skip("this user reads every folder (root), and setpriv cannot take that away")
        # root reads every folder: without the capabilities that let it, it reads as a user does
        code = ("from retrieval.documents import discover\nfrom qa.core.errors import InputError\n"
                f"try:\n    discover({str(folder)!r})\nexcept InputError as e:\n    print(e)")
        run = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", code],
                             capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
        assert "cannot read the folder" in run.stdout and "locked" in run.stdout, run.stdout + run.stderr
    finally:
        (folder / "locked").chmod(0o755)


def test_jsonl_records_without_text_are_said(tmp_path: Path, caplog) -> None:
    """A record whose text was only spaces was left out without a word."""
    (tmp_path / "x.jsonl").write_text('{"text": "  "}\n{"text": "Real text."}\n{"text": "\\n"}\n', encoding="utf-8")
    with caplog.at_level("WARNING", logger="qa.index"):
        [doc] = read_documents(tmp_path / "x.jsonl", "x.jsonl")
    assert doc.text == "Real text." and "x.jsonl: left out 2 records whose text is empty (lines 1, 3)" in caplog.text


def test_bad_jsonl_and_paths(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"text": "ok"}\n{broken\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="x.jsonl:2"):
        list(read_documents(tmp_path / "x.jsonl", "x.jsonl"))
    # what is stored must be what the line says: not a dict's repr as an id, not the second of two
    # "text" fields, not NaN, not a NUL (a raw NUL in a text file is refused as binary already)
    for line, words in [('{"id": {"x": 1}, "text": "hello"}', '"id" must be a string'),
                        ('{"id": 1.5, "text": "hello"}', '"id" must be a string'),
                        ('{"id": "a\\u0000b", "text": "hello"}', "NUL"),
                        ('{"text": "hello", "tag": ["x\\u0000y"]}', "NUL"),
                        ('{"id": true, "text": "hello"}', '"id" must be a string'),
                        ('{"text": "hello", "title": ["t"]}', '"title" must be a string'),
                        ('{"text": "one", "text": "two"}', "given twice"),
                        ('{"text": "hello", "n": NaN}', "NaN"),
                        ('{"text": "a\\u0000b"}', "NUL")]:
        (tmp_path / "z.jsonl").write_text(line + "\n", encoding="utf-8")
        with pytest.raises(DataFormatError, match=words):
            list(read_documents(tmp_path / "z.jsonl", "z.jsonl"))
    (tmp_path / "z.jsonl").write_text('{"id": 7, "text": "hello", "title": null}\n{"id": 8.0, "text": "a \\\\u0000"}\n',
                                      encoding="utf-8")
    first, second = read_documents(tmp_path / "z.jsonl", "z.jsonl")
    assert first.doc_id == "7" and first.title == "" and second.doc_id == "8"  # 8.0: an integer column with gaps
    assert second.text == "a \\u0000"  # the six characters, not a NUL
    with pytest.raises(InputError):
        discover(tmp_path / "missing")
    (tmp_path / "y.pdf").write_bytes(b"%PDF")
    with pytest.raises(InputError, match="unsupported"):
        discover(tmp_path / "y.pdf")


def test_every_file_that_cannot_be_indexed_is_said_in_one_run(tmp_path: Path, settings: Settings) -> None:
    """Two latin-1 files took two runs to find (only the first was said), and two exports each with
    "id": 1 named only the second file."""
    (tmp_path / "good.txt").write_text("fine", encoding="utf-8")
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_bytes("caf\xe9".encode("latin-1"))
    said = r"a.txt is not UTF-8 text.*; 2 more files cannot be read either: \S*/b.txt, \S*/c.txt \(nothing"
    with pytest.raises(InputError, match=said):
        passages_from_path(tmp_path, settings)
    jsonl = tmp_path / "exports"
    jsonl.mkdir()
    for team in ("teamA", "teamB"):
        (jsonl / f"{team}.jsonl").write_text('{"id": 1, "text": "minutes"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"'1' occurs twice \(exports/teamA.jsonl:1 and exports/teamB.jsonl:1\)"):
        passages_from_path(jsonl, settings)


def test_markdown_is_read_as_its_words(tmp_path: Path) -> None:
    """Markdown was indexed raw: "##" came back as a best guess, and a title underlined with "==="
    was not the document's title."""
    (tmp_path / "security.markdown").write_text(
        "Security handbook\n=================\n\n## Badges\n\n- Wear your **badge**; see [the policy](http://x/y).\n"
        "- Lost badge? Call `4412`.\n\n> Visitors sign in.\n\n---\n\n```\nprint(1)\n```\n<!-- draft -->\n",
        encoding="utf-8")
    [doc] = read_documents(tmp_path / "security.markdown", "security.markdown")
    assert doc.title == "Security handbook"
    assert doc.text == ("Security handbook\n\nBadges\n\nWear your badge; see the policy.\nLost badge? Call 4412."
                        "\n\nVisitors sign in.\n\nprint(1)")


@pytest.mark.parametrize(("markdown", "title", "words"), [
    ("2**10 and 3**4 and x**2", "", "2**10 and 3**4 and x**2"),  # not emphasis: the numbers stay
    ("Use `a**b` or `c**d`", "", "Use a**b or c**d"),  # a code span keeps what it holds
    ("foo__bar__baz", "", "foo__bar__baz"),
    ("# Learning C#", "Learning C#", "Learning C#"),  # a closing # needs a space before it
    ("See [docs](http://x.org/a_(b)) now", "", "See docs now"),
    ("a `<!--` b\n\nc `-->` d", "", "a <!-- b\n\nc --> d"),  # a comment opens a line
    ("```\n# not a title\n**kept**\n```\n# Real", "Real", "# not a title\n**kept**\nReal"),  # fences hold code
    ("The price rose sharply\n---\nafter that.", "", "The price rose sharply\nafter that."),
    ("[unclosed link and ]stuff", "", "[unclosed link and ]stuff"),
    # emphasis, struck words, tables and front matter: "*March 3*" and "Bob~~ Carla Mendes" were
    # answers, "Tool | Owner |" a best guess, the front matter's "title:" words of the text
    ("The audit is *March 3*; the auditor is ~~Bob~~ Carla, _not_ Dan.", "",
     "The audit is March 3; the auditor is Carla, not Dan."),
    ("2*3*4 and snake_case_name and a * b * c", "", "2*3*4 and snake_case_name and a * b * c"),
    ("| Tool | Owner |\n|:---|---:|\n| Jenkins | Olga |\n| *CI* | a \\| b |\n\nAfter", "",
     "Tool, Owner.\n\nJenkins, Olga.\nCI, a | b.\n\nAfter"),
    ("a | b\nno table", "", "a | b\nno table"),
    ("Use a | b to pipe\n---\nText", "", "Use a | b to pipe\nText"),  # a heading: the cells do not match
    ("---\ntitle: \"Style guide\"\ntags:\n  - x\n---\n# Heading\nText", "Style guide", "Heading\nText"),
    ("---\nSummary: kept\n---\nText", "", "Summary: kept\nText"),  # a rule, words, a rule
    # as a renderer shows them: "02:00 &amp; 14:00" and "my\\_app\\_config.yaml" were answers
    ("Backups at 02:00 &amp; 14:00, by R&amp;D.", "", "Backups at 02:00 & 14:00, by R&D."),
    ("Use ?id=5&section=intro, &copy 2024, &#169; &#xA9;", "", "Use ?id=5&section=intro, &copy 2024, © ©"),
    ("The file is my\\_app\\_config.yaml, \\*not\\* `a\\_b &amp;`.", "",
     "The file is my_app_config.yaml, *not* a\\_b &amp;."),
    ("Press <kbd>Ctrl</kbd>+<b>S</b>, 3 < 4, x<y, <Enter>.", "", "Press Ctrl+S, 3 < 4, x<y, <Enter>."),
    ("> > > The manager is Ann.", "", "The manager is Ann."),  # nested quotes kept "> >"
    ("- a\n  - b\n    - c", "", "a\n  b\n    c"),  # a third-level bullet kept its "-"
])
def test_markdown_keeps_every_word_it_is_not_markup_of(markdown: str, title: str, words: str) -> None:
    from retrieval.documents import markdown_document

    assert markdown_document(markdown) == (title, words)


def test_markdown_reading_takes_linear_time_on_hostile_lines() -> None:
    """A line of a million "[" took about an hour (each one scanned the rest of the line for "]"),
    "**a " repeated and a heading padded with spaces likewise."""
    import time

    from retrieval.documents import markdown_document

    for hostile in ("[" * 1_000_000, "*_[`" * 250_000, "**a " * 250_000, "# a" + " " * 1_000_000 + "b",
                    "[a](" * 250_000, "x<!--" * 200_000, "a | b\n-" + " " * 1_000_000 + "x",
                    "~~a" * 300_000, "*a_" * 300_000, "<b " + "a=1 " * 250_000, "<b a" * 250_000,
                    "&amp" * 250_000, "\\" * 1_000_000, "> " * 500_000, " " * 1_000_000 + "-"):
        started = time.perf_counter()
        markdown_document(hostile)
        assert time.perf_counter() - started < 5, hostile[:20]


def test_html_entities_and_blocks() -> None:
    title, text = html_to_text("<title> T </title><p>a&nbsp;b</p><p>c</p>")
    assert title == "T" and text == "a b\n\nc"


def test_html_tables_lists_and_icons_keep_their_words_apart() -> None:
    """Cells ran together: "Ingrid SvenssonFacilities manager555-0142" was read as the answer
    "manager555-0142" (0.88) to another person's phone number; an SVG icon's <title> joined the
    page's title ("Runbookwarning icon")."""
    title, text = html_to_text(
        "<html><head><title>Runbook</title></head><body><h1>Staff<svg><title>warning icon</title><path d='x'/>"
        "</svg></h1><table><caption>Contacts</caption><tr><th>Name</th><th>Phone</th></tr><tr><td>Ingrid "
        "Svensson</td><td>555-0142</td></tr><tr><td>Rahul Mehta</td><td>555-0199</td></tr></table>"
        "<dl><dt>SLA</dt><dd>4 hours</dd></dl>before<hr>after <title/>tail</body></html>")
    assert title == "Runbook"
    assert text == ("Staff\n\nContacts\n\nName, Phone.\n\nIngrid Svensson, 555-0142.\n\nRahul Mehta, 555-0199.\n\n"
                    "SLA\n\n4 hours\n\nbefore\n\nafter tail")


def test_index_folder_and_failed_run_keeps_previous(
    built_index: Path, corpus_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    assert is_complete(built_index)
    manifest = Manifest.load(built_index)
    assert manifest.dims == 384 and manifest.count == 5 and "all-MiniLM-L6-v2" in manifest.encoder
    target = tmp_path / "index"
    index_path(corpus_dir / "sub", target, settings, progress=False)
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "good.txt").write_text("fine", encoding="utf-8")
    (bad / "z.txt").write_bytes(b"\xff\xfe\x00broken")
    with pytest.raises(InputError, match="z.txt"):
        index_path(bad, target, settings, progress=False)
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "index"]


def test_add_and_delete_passages(built_index: Path, settings: Settings, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(built_index, folder)
    n = add_passages(folder, [Passage("new#0", "Mount Everest is the highest mountain.", "Everest")], settings)
    assert n == 6
    from retrieval.hybrid import HybridRetriever

    r = HybridRetriever.from_index_dir(folder, settings)
    assert r.search("highest mountain on earth", 1)[0].id == "new#0"
    r.close()
    assert delete_passages(folder, ["new#0"]) == 1
    with SQLiteDocStore(folder / DOCSTORE, read_only=True) as store:
        assert store.count() == 5
    assert json.loads((folder / "manifest.json").read_text())["count"] == 5


def test_an_hnsw_collection_takes_back_a_passage_deleted_last(tmp_path: Path, settings: Settings) -> None:
    """Deleting the newest passage and adding its corrected version (the usual fix of a typo) must
    not hand the new passage the deleted one's key, which the HNSW graph keeps as a tombstone."""
    from retrieval.ingest import build_index

    folder = tmp_path / "hnsw"
    build_index([Passage(f"doc{i}#0", f"Passage number {i} about topic {i}.") for i in range(3)], folder,
                settings, progress=False, dense_kind="hnsw")
    assert delete_passages(folder, ["doc2#0"]) == 1
    assert add_passages(folder, [Passage("doc2#0", "Corrected passage two, about topic two.")], settings) == 3
    with SQLiteDocStore(folder / DOCSTORE, read_only=True) as store:
        assert sorted(k for k, _ in store.iter_all()) == [1, 2, 4]
    # a store written before the key floor existed knows only its own keys: the dense index's
    # tombstones decide (the floor restarted at the tombstoned key, refused on every add)
    import sqlite3

    assert delete_passages(folder, ["doc2#0"]) == 1  # key 4 a tombstone now too
    with sqlite3.connect(folder / DOCSTORE) as conn:
        conn.execute("DROP TABLE key_floor")
    assert add_passages(folder, [Passage("doc2#0", "Passage two, corrected once more.")], settings) == 3
    with SQLiteDocStore(folder / DOCSTORE, read_only=True) as store:
        assert sorted(k for k, _ in store.iter_all()) == [1, 2, 5]


def test_files_that_hold_no_text_are_named_and_the_files_read_are_counted(tmp_path: Path, caplog, capsys) -> None:
    """An empty file, a page of scripts or front matter alone was left out without a word."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "garage.txt").write_text("The parking garage code is 7731.", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "script.html").write_text("<html><script>alert(1)</script></html>", encoding="utf-8")
    with caplog.at_level("WARNING", logger="qa.index"):
        passages = passages_from_path(folder, Settings(), progress=True)
    assert len(passages) == 1
    assert "left out 2 files holding no text: notes/empty.txt, notes/script.html" in caplog.text
    assert "read 1 file: 1 document, 1 passage" in capsys.readouterr().err


def test_progress_reaches_a_log_that_is_no_terminal() -> None:
    """A bar redraws on a terminal only: `qa index notes/ 2> index.log` stayed empty for minutes."""
    import io

    from rich.console import Console

    from qa.core.progress import LoggedProgress

    log = io.StringIO()
    with LoggedProgress(console=Console(file=log, force_terminal=False), every_s=0.0) as bar:
        task = bar.add_task("encoding passages", total=4)
        bar.advance(task, 1)
        bar.update(task, completed=2)
    assert "encoding passages: 1 of 4 (25 %)" in log.getvalue() and "encoding passages: 2 of 4 (50 %)" in log.getvalue()
    shown = io.StringIO()
    with LoggedProgress(console=Console(file=shown, force_terminal=True), every_s=0.0) as bar:
        bar.advance(bar.add_task("encoding passages", total=4), 1)
    assert "1 of 4" not in shown.getvalue()  # a terminal has the bar
