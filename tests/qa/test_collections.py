"""The user's own documents: after `qa index FOLDER`, a plain `qa ask` answers from them, beside
the embedded default; `--collection` searches one collection alone."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import pytest

from qa.cli import main
from qa.core.errors import QAError
from qa.core.paths import MODELS_DIR
from qa.core.settings import Settings
from retrieval.collections import CollectionSet, check_name, collection_name_for, user_collections

NOTES = ("# Release meeting\n\nWe decided that the Zephyrine release ships on the ninth of March, "
         "after the security review by Oriane Castellan.\n")


@pytest.fixture()
def notes(tmp_path: Path) -> Path:
    d = tmp_path / "team-notes"
    d.mkdir()
    (d / "meeting.md").write_text(NOTES, encoding="utf-8")
    return d


def test_collection_names() -> None:
    assert check_name("my-notes_2.v1") == "my-notes_2.v1"
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65, "notes\n", "default\n"):  # `$` matched before a final newline
        with pytest.raises(Exception, match="invalid collection name"):
            check_name(bad)
    assert collection_name_for("/tmp/My Notes!") == "My-Notes"
    assert collection_name_for("/tmp/Übersicht") == "Ubersicht"  # the letter stays, its accent goes
    assert collection_name_for("/tmp/_drafts") == "drafts"  # a name must start with a letter or digit: it was refused
    assert collection_name_for("/tmp/Straße Øresund") == "Strasse-Oresund"
    # "use letters" refused "Zoë-notes" and "笔记", both letters: ASCII ones, and the name a folder so named gets
    with pytest.raises(Exception, match=r"ASCII letters.*\(a folder named so is indexed as 'Zoe-notes'\)"):
        check_name("Zoë-notes")
    with pytest.raises(Exception, match=r"ASCII letters, digits, '.', '_' or '-', starting with a letter or digit$"):
        check_name("笔记")


def test_index_then_plain_ask_uses_the_new_collection(notes: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    home = tmp_path / "collections"
    monkeypatch.setenv("QA_INDEX_DIR", str(home))
    monkeypatch.setenv("QA_INCLUDE_DEFAULT", "false")
    assert main(["index", str(notes)]) == 0
    assert "team-notes" in capsys.readouterr().err
    found = user_collections(Settings.load())
    assert [c.name for c in found] == ["team-notes"]
    if not (MODELS_DIR / "span-minilm-l6" / "config.json").exists():
        pytest.skip("no shipped reader")
    assert main(["ask", "When does the Zephyrine release ship?", "--route", "webqa", "--json"]) == 0
    resp = json.loads(capsys.readouterr().out)
    top = resp["answers"][0]
    top = top["best_guess"] if top["no_answer"] else top
    assert "March" in top["text"] and top["evidence"]["collection"] == "team-notes"
    # a named collection is answered from alone: the README says "from your notes alone", and the
    # router sent a question about a country to the graph (Canberra, 0.91) whatever was named
    assert main(["ask", "What is the capital of Australia?", "--collection", "team-notes", "--json"]) == 0
    routing = json.loads(capsys.readouterr().out)["routing"]
    assert routing["chosen"] == "webqa" and routing["asked"] == ["webqa"] and "team-notes" in routing["reason"]


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_full_width_digits_and_decomposed_accents_read_as_typed_otherwise(tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    """"What costs 45 euros?" over "Tickets cost ４５ euros." (full-width digits, as CJK input
    methods type them) was "no answer" at 0.93, and a name saved decomposed (NFD) scored as if the
    passage lacked it ("café manager" 0.13 against 0.62 for the same file composed)."""
    import unicodedata

    text = ("The chief engineer of the Zurich plant is Renée Beaulieu. The café manager is José Álvarez. "
            "Tickets cost ４５ euros.")
    monkeypatch.setenv("QA_INCLUDE_DEFAULT", "false")
    scores = {}
    for form in ("NFC", "NFD"):
        folder = tmp_path / form.lower()
        folder.mkdir()
        (folder / "notes.txt").write_text(unicodedata.normalize(form, text), encoding="utf-8")
        monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / f"idx-{form}"))
        assert main(["index", str(folder)]) == 0
        for q in ("What costs 45 euros?", "What costs ４５ euros?", "What is José Álvarez's job?"):
            assert main(["ask", q, "--route", "webqa", "--json"]) == 0
            top = json.loads(capsys.readouterr().out)["answers"][0]
            assert not top["no_answer"], (form, q)
            ev = top["evidence"]
            assert ev["text"][ev["start"]:ev["end"]] == top["text"]  # offsets into the text as stored
            scores[form, q] = (unicodedata.normalize("NFC", top["text"]), top["score"])
    assert scores["NFC", "What costs 45 euros?"][0] == "Tickets"
    for q in ("What costs 45 euros?", "What costs ４５ euros?", "What is José Álvarez's job?"):
        assert scores["NFC", q] == scores["NFD", q], q


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_user_collection_beside_the_default(notes: Path, tmp_path: Path) -> None:
    from retrieval.default import default_index
    from retrieval.ingest import index_path

    settings = Settings(index_dir=str(tmp_path / "collections"))
    index_path(notes, tmp_path / "collections" / "team-notes", settings, progress=False)
    from retrieval.collections import discover

    found = discover(settings, default_index(settings))
    assert [c.name for c in found] == ["default", "team-notes"]
    both = CollectionSet(found, settings)
    hits = both.search("Who did the security review of the Zephyrine release?", 5)
    assert hits[0].collection == "team-notes" and "Castellan" in hits[0].text
    assert len({(h.collection, h.id) for h in hits}) == len(hits)
    wiki = both.search("Who developed the theory of general relativity?", 5)
    assert wiki[0].collection == "default"
    only = both.search("Who developed the theory of general relativity?", 5, collection="team-notes")
    assert {h.collection for h in only} == {"team-notes"}
    with pytest.raises(Exception, match="no collection named"):
        both.search("x?", 3, collection="nope")


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_a_broken_or_unknown_collection_is_the_users_to_know(notes: Path, tmp_path: Path, monkeypatch,
                                                              capsys) -> None:
    """A damaged collection is left out of a plain question (with a warning) instead of silencing
    every passage; asked for by name it is an error, and so is a name that does not exist, even
    when the router (not `--route webqa`) decides."""
    import shutil

    home = tmp_path / "collections"
    monkeypatch.setenv("QA_INDEX_DIR", str(home))
    monkeypatch.setenv("QA_INCLUDE_DEFAULT", "false")
    assert main(["index", str(notes)]) == 0
    shutil.copytree(home / "team-notes", home / "broken")
    (home / "broken" / "manifest.json").write_text("{not json", encoding="utf-8")
    shutil.copytree(home / "team-notes", home / "torn")  # a BM25 part cut short, a manifest that is no object
    ids = home / "torn" / "bm25" / "ids.npy"
    ids.write_bytes(ids.read_bytes()[:6])
    shutil.copytree(home / "team-notes", home / "listed")
    (home / "listed" / "manifest.json").write_text("[]", encoding="utf-8")
    capsys.readouterr()
    assert main(["ask", "When does the Zephyrine release ship?", "--json"]) == 0
    resp = json.loads(capsys.readouterr().out)
    top = resp["answers"][0]
    assert resp["routing"]["failed"] == {} and "March" in (top["best_guess"] or top)["text"]
    assert main(["ask", "When does the Zephyrine release ship?", "--collection", "broken"]) == 2
    assert "not a valid index manifest" in capsys.readouterr().err
    assert main(["ask", "When does the Zephyrine release ship?", "--collection", "torn"]) == 2
    assert "damaged BM25 index" in capsys.readouterr().err
    assert main(["ask", "When does the Zephyrine release ship?", "--collection", "listed"]) == 2
    assert "not a valid index manifest" in capsys.readouterr().err
    assert main(["ask", "When does the Zephyrine release ship?", "--collection", "nope"]) == 2
    assert "no collection named 'nope'" in capsys.readouterr().err
    empty = tmp_path / "not-an-index"
    empty.mkdir()
    monkeypatch.setenv("QA_CQA_STORE", str(tmp_path / "threads.sqlite"))
    # an --index the user named that is no index: refused, not answered from the other sources
    assert main(["ask", "Who wrote Pride and Prejudice?", "--index", str(empty), "--json"]) == 2
    assert "is not an index folder" in capsys.readouterr().err
    (empty / "a.txt").write_text("x")
    assert main(["ask", "Who wrote Pride and Prejudice?", "--index", str(empty / "a.txt")]) == 2
    assert "is not an index folder" in capsys.readouterr().err
    # a graph file, or the folder of collections, was told "build one with qa index ... --out DIR"
    (empty / "team.ttl").write_text("<http://x/a> <http://x/b> <http://x/c> .\n")
    assert main(["ask", "Who wrote Pride and Prejudice?", "--index", str(empty / "team.ttl")]) == 2
    assert "is a knowledge graph file, not an index folder: give it with --graph" in \
        " ".join(capsys.readouterr().err.split())
    assert main(["ask", "Who wrote Pride and Prejudice?", "--index", str(home)]) == 2
    assert "holds collections, it is not one" in " ".join(capsys.readouterr().err.split())


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_a_running_engine_sees_collections_another_process_rebuilds(tmp_path: Path) -> None:
    """A server kept answering from what `qa index` had replaced, and did not see a new collection."""
    from qa.engine import Engine
    from retrieval.ingest import index_path

    settings = Settings(index_dir=str(tmp_path / "collections"), include_default=False)
    docs = tmp_path / "re"
    docs.mkdir()
    (docs / "a.txt").write_text("The cafeteria opens at 9am now.", encoding="utf-8")
    index_path(docs, tmp_path / "collections" / "re", settings, progress=False)
    engine = Engine(settings)

    def asked(question: str) -> str:
        top = engine.ask(question, route="webqa").answers[0]
        return (top.best_guess if top.no_answer else top).text

    assert "9am" in asked("When does the cafeteria open?")
    (docs / "a.txt").write_text("The cafeteria opens at 11am from Monday.", encoding="utf-8")
    index_path(docs, tmp_path / "collections" / "re", settings, progress=False)  # "another process"
    assert "11am" in asked("When does the cafeteria open?")
    other = tmp_path / "parking"
    other.mkdir()
    (other / "p.txt").write_text("The parking code is 9911.", encoding="utf-8")
    index_path(other, tmp_path / "collections" / "parking", settings, progress=False)
    assert engine.collections() == ["parking", "re"]
    # a reopening that fails is tried again at the next question, not taken as caught up
    from retrieval.index_dir import Manifest

    (docs / "a.txt").write_text("The cafeteria opens at 2pm.", encoding="utf-8")
    index_path(docs, tmp_path / "collections" / "re", settings, progress=False)
    manifest = Manifest.load(tmp_path / "collections" / "re")
    good_encoder, manifest.encoder = manifest.encoder, "another-encoder"
    manifest.save(tmp_path / "collections" / "re")
    with pytest.raises(QAError):
        asked("When does the cafeteria open?")
    with pytest.raises(QAError):  # still refused: not answered from the replaced passages
        asked("When does the cafeteria open?")
    manifest.encoder = good_encoder
    manifest.save(tmp_path / "collections" / "re")
    assert "2pm" in asked("When does the cafeteria open?")


def _two_notes_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Two folders both named "notes" (so both would be the collection "notes"), one document each."""
    work, home = tmp_path / "w" / "notes", tmp_path / "p" / "notes"
    for folder, text in ((work, "Work: the deploy freeze starts on 20 December."),
                         (home, "Personal: the dentist is on Tuesday.")):
        folder.mkdir(parents=True)
        (folder / "a.txt").write_text(text, encoding="utf-8")
    return work, home


def test_qa_index_never_replaces_another_folders_collection_or_api_documents_silently(tmp_path: Path, monkeypatch,
                                                                                        capsys) -> None:
    from qa.engine import Engine
    from retrieval.documents import Document

    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    work, home = _two_notes_folders(tmp_path)
    assert main(["index", str(work)]) == 0
    assert main(["index", str(home)]) == 2  # the same name, another folder: the work notes were replaced
    assert "was built from" in capsys.readouterr().err
    assert main(["index", str(work)]) == 0  # its own folder again: fine
    memo = Document(doc_id="memo", text="The wifi password is OSPREY.", title="memo", source="api")
    Engine(Settings.load()).add_documents("notes", [memo])
    assert main(["index", str(work)]) == 2
    assert "added through the API" in capsys.readouterr().err
    # that document deleted, nothing of the API's is left to lose: its folder indexes again as before
    engine = Engine(Settings.load())
    assert engine.delete_document("memo", "notes")[1] == 1
    assert main(["index", str(work)]) == 0
    engine.add_documents("notes", [memo])
    assert main(["index", str(home), "--replace"]) == 0
    from retrieval.index_dir import Manifest

    (home / "b.txt").write_text("Personal: the passport is PX-77.", encoding="utf-8")
    assert main(["index", str(home), "--replace"]) == 0
    assert set(Manifest.load(tmp_path / "idx" / "notes").sources) == {"notes/a.txt", "notes/b.txt"}
    engine.delete_document("notes/b.txt", "notes")  # a file's name can itself be personal data: it goes too
    assert Manifest.load(tmp_path / "idx" / "notes").sources == ["notes/a.txt"]
    # a collection the API created (not only one it added to) is protected too
    Engine(Settings.load()).add_documents("api-made", [memo])
    api_made = tmp_path / "x" / "api-made"
    api_made.mkdir(parents=True)
    (api_made / "a.txt").write_text("Something else.", encoding="utf-8")
    assert main(["index", str(api_made)]) == 2
    assert "added through the API" in capsys.readouterr().err
    # --out into the collections' folder under a name `qa ask` can never search
    for bad in ("my notes", "default"):
        assert main(["index", str(home), "--out", str(tmp_path / "idx" / bad)]) == 2
        assert "collection name" in capsys.readouterr().err


def test_an_index_folder_is_readable_by_others_as_the_umask_says(tmp_path: Path) -> None:
    """Index folders came out 0700 (mkdtemp's mode), so a shared index_dir was unreadable."""
    import os
    import stat

    from qa.core.atomic import staging_dir, swap_dir

    old = os.umask(0o022)
    os.umask(old)
    with staging_dir(tmp_path / "shared") as tmp:
        (tmp / "manifest.json").write_text("{}")
        swap_dir(tmp, tmp_path / "shared")
    mode = stat.S_IMODE((tmp_path / "shared").stat().st_mode)
    assert mode == 0o777 & ~old


def test_qa_index_puts_back_a_collection_a_killed_run_moved_aside(tmp_path: Path, monkeypatch, capsys) -> None:
    """A `qa index` killed between the two renames of its swap left the collection under a hidden
    name: only the API's start-up put it back, so a second `qa index` of another folder under the
    same name went ahead as if there were no collection to protect."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    work, home = _two_notes_folders(tmp_path)
    assert main(["index", str(work)]) == 0
    collection = tmp_path / "idx" / "notes"
    collection.rename(tmp_path / "idx" / ".notes.old-999999999-a1b2c3d4")  # a process that is gone
    capsys.readouterr()
    assert main(["index", str(home)]) == 2  # the work notes are back, and protected
    captured = capsys.readouterr()
    assert "restored notes from an interrupted update" in captured.err and "was built from" in captured.err
    assert collection.is_dir() and [p.name for p in (tmp_path / "idx").iterdir()] == ["notes"]
    # with --out, the parent is any folder of the user's: their own hidden folders that look like
    # ours (no process id, or another name) are theirs, never renamed or deleted
    home = tmp_path / "home"
    for mine in (".vim.old-backup", ".cache.building-keep", ".myindex.old-keep", ".other.old-999999999-a1b2c3d4"):
        (home / mine).mkdir(parents=True)
    assert main(["index", str(work), "--out", str(home / "myindex")]) == 0
    assert sorted(p.name for p in home.iterdir()) == [".cache.building-keep", ".myindex.old-keep",
                                                      ".other.old-999999999-a1b2c3d4", ".vim.old-backup", "myindex"]


def test_documents_the_api_adds_while_qa_index_runs_are_never_dropped(tmp_path: Path, monkeypatch,
                                                                       capsys) -> None:
    """`qa index` checked the collection once, encoded for minutes, then swapped its build in: a
    document added through the API meanwhile was gone, exit 0."""
    import retrieval.ingest as ingest
    from qa.engine import Engine
    from retrieval.docstore import SQLiteDocStore
    from retrieval.documents import Document

    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("Work: the deploy freeze starts on 20 December.", encoding="utf-8")
    assert main(["index", str(notes)]) == 0
    memo = Document(doc_id="memo", text="The wifi password is OSPREY.", title="memo", source="api")
    read = ingest.passages_from_path

    def read_while_the_api_adds(*args, **kwargs):  # the API's add lands while the build encodes
        passages = read(*args, **kwargs)
        Engine(Settings.load()).add_documents("notes", [memo])
        return passages

    monkeypatch.setattr(ingest, "passages_from_path", read_while_the_api_adds)
    capsys.readouterr()
    assert main(["index", str(notes), "--replace"]) == 2
    assert "changed while this ran" in capsys.readouterr().err
    with SQLiteDocStore(tmp_path / "idx" / "notes" / "docstore.sqlite") as store:
        assert any(p.id.startswith("memo#") for _, p in store.iter_all())
    monkeypatch.setattr(ingest, "passages_from_path", read)
    assert main(["index", str(notes), "--replace"]) == 0  # asked again, it rebuilds as told
    assert sorted(p.name for p in (tmp_path / "idx").iterdir() if not p.name.startswith(".")) == ["notes"]


def test_collections_are_listed_and_deleted_by_name(notes: Path, tmp_path: Path, monkeypatch, capsys,
                                                    caplog) -> None:
    """There was no command for either: the README never said how to remove a collection."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("QA_INCLUDE_DEFAULT", "false")
    assert main(["index", str(notes)]) == 0
    capsys.readouterr()
    assert main(["index", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "team-notes" in listed and "…" not in listed  # a long path wraps, never cut short
    # changed since it was built (documents added or deleted through the API): "built" alone kept its first time
    import os

    manifest = tmp_path / "idx" / "team-notes" / "manifest.json"
    later = manifest.stat().st_mtime + 3 * 3600
    os.utime(manifest, (later, later))
    from datetime import UTC, datetime

    assert main(["index", "--list"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert datetime.fromtimestamp(later, UTC).strftime("%H:%M:%S") in shown
    assert main(["index", "--delete", "team-notes"]) == 0
    assert "deleted the collection team-notes" in capsys.readouterr().err
    assert not (tmp_path / "idx" / "team-notes").exists() and list((tmp_path / "idx").iterdir()) == []
    assert main(["index", str(notes)]) == 0
    (tmp_path / "idx" / "team-notes" / "manifest.json").write_text("{torn", encoding="utf-8")
    capsys.readouterr()
    assert main(["index", "--list"]) == 0 and "unreadable" in capsys.readouterr().out
    assert main(["index", "--delete", "team-notes"]) == 0  # a damaged one goes too
    assert "(it was damaged)" in capsys.readouterr().err and list((tmp_path / "idx").iterdir()) == []
    # one without its manifest (a copy cut short) was missing from the list, left out of questions
    # without a word, and "no collection named" to --delete, its files staying on disk
    assert main(["index", str(notes)]) == 0
    (tmp_path / "idx" / "team-notes" / "manifest.json").unlink()
    capsys.readouterr()
    assert main(["index", "--list"]) == 0
    assert "team-notes" in capsys.readouterr().out.replace("\n", "")
    with caplog.at_level(logging.WARNING):
        main(["ask", "When does the Zephyrine release ship?", "--route", "webqa"])
    assert any("left out the collection team-notes" in r.getMessage() and "manifest.json" in r.getMessage()
               for r in caplog.records)
    assert main(["index", "--delete", "team-notes"]) == 0
    assert "(it was damaged)" in capsys.readouterr().err and list((tmp_path / "idx").iterdir()) == []
    (tmp_path / "idx" / "not-a-collection").mkdir()  # a folder holding no index part is not one
    assert main(["index", "--delete", "not-a-collection"]) == 2
    assert (tmp_path / "idx" / "not-a-collection").is_dir()
    for argv, said in ((["index", "--delete", "team-notes"], "no collection named 'team-notes'"),
                       (["index", "--delete", "default"], "the embedded collection is not deleted"),
                       (["index", "--delete", "../x"], "invalid collection name"),
                       (["index", str(notes), "--list"], "--list and --delete NAME go alone")):
        assert main(argv) == 2
        assert said in capsys.readouterr().err


def test_a_new_collection_named_apart_in_case_alone_is_refused(notes: Path, tmp_path: Path, monkeypatch,
                                                               capsys) -> None:
    """"TEAM-NOTES" beside "team-notes" was a second collection: one folder where case is not kept."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("QA_INCLUDE_DEFAULT", "false")
    assert main(["index", str(notes)]) == 0
    capsys.readouterr()
    assert main(["index", str(notes), "--name", "TEAM-NOTES"]) == 2
    assert "differs from it in case alone" in capsys.readouterr().err
    assert main(["index", str(notes), "--name", "Default"]) == 2
    assert "the embedded collection's" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["team-notes"]
    assert main(["index", str(notes)]) == 0  # the same name again rebuilds it


def test_no_collection_at_all_is_an_empty_list_not_an_error(tmp_path: Path) -> None:
    """GET /v1/collections answered 404 "no passage collection to search" once the API had deleted
    the last document of the last collection (with the embedded default left out)."""
    from qa.engine import Engine

    engine = Engine(Settings(include_default=False, index_dir=str(tmp_path / "collections")))
    assert engine.collections() == []
    with pytest.raises(QAError, match="no passage collection"):
        engine.ask("What is the vault code?", route="webqa")  # a question still says why it cannot be answered


def test_the_python_api_checks_what_a_caller_passes_before_any_source_sees_it(tmp_path: Path, small_ttl) -> None:
    """An embedding service's mistakes: `top_k="2"` and `k=-1` failed deep in the sources (logged as
    their failure) or returned every answer but one; a date in a document's metadata, text None or a
    lone surrogate failed half-way through indexing with Python's own errors; `warm_up` stopped at the
    first source that could not load and left the others cold."""
    from datetime import date

    from qa.core.errors import InputError
    from qa.core.types import Route
    from qa.engine import Engine
    from retrieval.documents import Document

    settings = Settings(include_default=False, index_dir=str(tmp_path / "collections"), kb_graph=str(small_ttl))
    engine = Engine(settings)
    for bad in ("2", 2.0, 0, -1, True, 10**9):
        with pytest.raises(InputError, match="top_k must be a whole number"):
            engine.ask("Who directed Inception?", top_k=bad)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="k must be a whole number"):
            engine.search("vault code", k=bad)  # type: ignore[arg-type]
    memo = Document("memo", "The vault code is 4711.", "Memo", "memo.txt")
    cases = [([Document("d", "text", "T", "s", {"when": date(2026, 3, 9)})], "metadata must hold JSON values"),
             ([Document("d", None, "T", "s")], "text must be a string"),  # type: ignore[arg-type]
             ([Document("d", "broken \ud800 text", "T", "s")], "not valid UTF-8"),
             ([memo, "just text"], r"documents\[1\] is a str"),
             ([memo, Document("blank", " \n ", "T", "s")], "document 'blank' has no text"),  # was said added
             ([memo, Document(" ", "Jane's address", "T", "s")], r"documents\[1\]: doc_id is blank"),  # undeletable
             ([memo, memo], "document id 'memo' occurs twice in this call"),  # said as the CLI's `--name` advice
             (memo, "a list of Document")]
    for docs, message in cases:
        with pytest.raises(InputError, match=message):
            engine.add_documents("notes", docs)  # type: ignore[arg-type]
    assert not (tmp_path / "collections" / "notes").exists()  # nothing half-written
    with pytest.raises(InputError, match="no route 'bogus'"):
        engine.source("bogus")  # type: ignore[arg-type]
    failed = engine.warm_up(routes=[Route.WEBQA, Route.KBQA])
    assert list(failed) == [Route.WEBQA] and "no passage collection" in failed[Route.WEBQA]
    assert Route.KBQA in engine._sources  # noqa: SLF001 - loaded all the same
    assert engine.add_documents("notes", [memo]) == 1 and engine.warm_up(routes=[Route.WEBQA]) == {}
    with pytest.raises(InputError, match="no route 'bogus' in this engine"):
        engine.warm_up(routes=["bogus"])  # type: ignore[list-item]
    import numpy as np

    assert engine.search("vault code", k=np.int64(1))[0].id.startswith("memo")  # a NumPy count is a count
    with pytest.raises(Exception, match="greater than or equal to 1"):
        settings.top_k = 0  # a caller's settings object is checked as it is changed
    with pytest.raises(Exception, match="chunk_overlap"):
        settings.chunk_overlap = settings.chunk_chars + 5  # refused by a check across settings...
    assert settings.chunk_overlap < settings.chunk_chars  # ...and not kept


def test_closing_the_engine_lets_go_of_every_collections_files(tmp_path: Path) -> None:
    """`Engine.close()` closed the thread store alone: each collection's docstore, its BM25 arrays
    and its FAISS file stayed open (and mapped) until the engine was garbage-collected."""
    import os

    from qa.engine import Engine
    from retrieval.documents import Document

    def held() -> set[str]:
        paths = set()
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                paths.add(os.readlink(f"/proc/self/fd/{fd}"))
        with open("/proc/self/maps") as maps:
            paths |= {line.split()[-1] for line in maps if str(tmp_path) in line}
        return {p for p in paths if p.startswith(str(tmp_path / "collections"))}

    engine = Engine(Settings(index_dir=str(tmp_path / "collections"), include_default=False, cqa_seed=False,
                             cqa_store=str(tmp_path / "threads.sqlite")))
    engine.add_documents("notes", [Document("memo", "The vault code is 4711.", "Memo", "memo.txt")])
    assert engine.search("vault code", k=1)[0].text == "The vault code is 4711."
    assert any(p.endswith("docstore.sqlite") for p in held())
    engine.close()
    assert held() == set()
    assert engine.search("vault code", k=1)[0].text == "The vault code is 4711."  # opened again when asked


def test_a_deletion_leaves_no_copy_of_the_old_collection_open(tmp_path: Path) -> None:
    """Each addition or deletion writes the collection again and deletes the old files; the engine
    kept the old store open (swapped out, never closed) until the garbage collector came by: a
    deleted document's text stayed readable through /proc, its disk space held."""
    import gc
    import os

    from qa.engine import Engine
    from retrieval.documents import Document

    def deleted_but_open() -> list[str]:
        held = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/self/fd/{fd}")
                if target.startswith(str(tmp_path)) and target.endswith("(deleted)"):
                    held.append(target)
        return held

    engine = Engine(Settings(index_dir=str(tmp_path / "collections"), include_default=False, cqa_seed=False,
                             cqa_store=str(tmp_path / "threads.sqlite")))
    engine.add_documents("notes", [Document("secret", "Patient ZQXJ has diagnosis SECRETMARK.", "S", "s.txt"),
                                   Document("other", "The cafeteria opens at 8am.", "O", "o.txt")])
    assert engine.search("SECRETMARK diagnosis", k=1)[0].id == "secret#0"
    gc.disable()  # what the collector would have closed some time later is not what is asserted
    try:
        engine.add_documents("notes", [Document("third", "The library opens at 9am.", "T", "t.txt")])
        engine.delete_document("secret", "notes")
        assert engine.search("SECRETMARK diagnosis", k=1)[0].id != "secret#0"
        assert deleted_but_open() == []
    finally:
        gc.enable()
    engine.close()
