from pathlib import Path

import pytest

from qa.cli import main


def test_qa_index_ok(corpus_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QA_CHUNK_CHARS", "400")
    monkeypatch.setenv("QA_CHUNK_OVERLAP", "50")
    assert main(["index", str(corpus_dir / "eiffel.md"), "--out", str(tmp_path / "idx")]) == 0
    assert (tmp_path / "idx" / "manifest.json").exists()
    captured = capsys.readouterr()
    assert "encoding passages" in captured.err and captured.out == ""  # progress is not output


def test_a_folder_emptied_and_indexed_again_says_its_old_collection_still_answers(tmp_path, monkeypatch, capsys):
    """It said "holds no .txt ... files", exit 2, and nothing of the collection built from the folder
    before, which went on answering from the deleted text."""
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "idx"))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("The Falcon release ships in May.\n", encoding="utf-8")
    assert main(["index", str(notes)]) == 0
    (notes / "a.txt").unlink()
    assert main(["index", str(notes)]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert "is kept and still answers (`qa index --delete notes` removes it)" in said


def test_qa_index_bad_input_exits_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9")
    assert main(["index", str(bad), "--out", str(tmp_path / "idx")]) == 2
    assert "bad.txt is not UTF-8" in " ".join(capsys.readouterr().err.split())  # rich wraps lines
    assert not (tmp_path / "idx").exists()
    assert main(["index", str(tmp_path / "missing"), "--out", str(tmp_path / "idx")]) == 2
    assert main(["index"]) == 2
    assert main(["index", str(bad), "--dense", "ivf"]) == 2


def test_qa_index_never_replaces_what_is_not_an_index(corpus_dir: Path, tmp_path: Path, capsys) -> None:
    """Building swaps the whole target folder in: a target holding the documents themselves, other
    files, or a file is refused before anything is read or written."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "eiffel.md").write_text((corpus_dir / "eiffel.md").read_text(encoding="utf-8"), encoding="utf-8")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work", encoding="utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_text("a file", encoding="utf-8")
    app = tmp_path / "app"  # a web app's folder: a manifest.json of its own does not make it an index
    app.mkdir()
    (app / "manifest.json").write_text('{"name": "my web app"}', encoding="utf-8")
    (app / "main.js").write_text("years of work", encoding="utf-8")
    for target, needle in ((docs, "would replace the documents being indexed"),
                           (precious, "a folder with other files in it (thesis.txt), not an index"),
                           (app, "a folder with other files in it (main.js), not an index"),
                           (plain, "is a file, not an index folder")):
        assert main(["index", str(docs), "--out", str(target)]) == 2
        assert needle in " ".join(capsys.readouterr().err.split())
    assert (docs / "eiffel.md").exists() and (precious / "thesis.txt").read_text() == "years of work"
    assert plain.read_text() == "a file" and (app / "main.js").exists()
    assert main(["index", str(docs), "--out", str(tmp_path / "idx")]) == 0
    assert main(["index", str(docs), "--out", str(tmp_path / "idx")]) == 0  # an index is rebuilt in place
    assert main(["index", str(docs), "--name", "default"]) == 2
    assert "the embedded collection's" in capsys.readouterr().err
    assert main(["index", str(docs), "--name", ""]) == 2  # an empty name is a mistake, not the default
    assert "invalid collection name ''" in capsys.readouterr().err


def test_unusable_folders_and_stores_are_one_line_exit_2(corpus_dir: Path, tmp_path: Path, monkeypatch,
                                                           capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    monkeypatch.setenv("QA_INDEX_DIR", str(afile))
    assert main(["index", str(corpus_dir / "eiffel.md")]) == 2
    assert "is a file: it must be a folder" in " ".join(capsys.readouterr().err.split())
    monkeypatch.delenv("QA_INDEX_DIR")
    assert main(["cqa", "stats", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a folder: give the path of a .sqlite file" in " ".join(err.split()) and "Traceback" not in err
    assert main(["cqa", "stats", "--store", str(afile / "t.sqlite")]) == 2  # the OS refuses: one line too
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_an_index_that_cannot_be_written_is_refused_before_encoding(corpus_dir: Path, tmp_path: Path, monkeypatch,
                                                                     capsys) -> None:
    """Found after every passage was encoded (minutes for a large folder), and named as the
    build's staging folder, not as the --out the user gave."""
    import retrieval.ingest as ingest

    def never(*args, **kwargs):
        raise AssertionError("encoding started")

    monkeypatch.setattr(ingest, "index_path", never)
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    assert main(["index", str(corpus_dir), "--out", str(blocker / "idx")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {blocker / 'idx'}" in " ".join(err.split()) and "building" not in err


def test_qa_index_stopped_by_sigterm_says_so_and_keeps_the_previous_index(corpus_dir: Path, tmp_path: Path) -> None:
    """`kill` (or a service manager) ended `qa index` without a word, exit -15; SIGTERM now takes
    Ctrl-C's way out, with 143, and the previous index stays (signalled while the passages are read
    and encoded; a write phase cut short is `staging_dir`'s, tested in tests/qa/test_atomic.py)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if not Path("/proc/self/status").exists():
        pytest.skip("needs Linux's /proc to see when the handler is in place")
    out = tmp_path / "idx"
    assert main(["index", str(corpus_dir / "eiffel.md"), "--out", str(out)]) == 0
    before = (out / "manifest.json").read_bytes()
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(6000):
        (docs / f"d{i}.txt").write_text(f"Document {i} is about topic {i}. " * 12, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "qa", "index", str(docs), "--out", str(out), "--replace"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    # signalled once the command line has its handler in place (Linux says so in /proc), whatever
    # the machine's speed: the 6,000 passages take minutes to encode, so the run is still going
    status = Path(f"/proc/{proc.pid}/status")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        caught = next((line.split()[1] for line in status.read_text().splitlines() if line.startswith("SigCgt:")), "0")
        if int(caught, 16) & (1 << (signal.SIGTERM - 1)):
            break
        time.sleep(0.05)
    time.sleep(1)  # into the work
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated: stopped before finishing" in err and "Traceback" not in err
    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "many"]


def test_the_sigterm_handler_is_only_lent_to_a_command() -> None:
    import signal

    before = signal.getsignal(signal.SIGTERM)
    assert main(["config", "--json"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_index_folder_holding_every_file_the_index_code_writes_is_replaceable(tmp_path):
    """HNSW writes its deletions beside its vectors; the folder is still an index, not someone's."""
    from retrieval.index_dir import INDEX_ENTRIES, check_target

    folder = tmp_path / "idx"
    folder.mkdir()
    for name in INDEX_ENTRIES:
        (folder / name).write_text("", encoding="utf-8")
    assert "dense.faiss.deleted.json" in INDEX_ENTRIES
    assert check_target(folder) == folder
