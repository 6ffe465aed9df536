"""A disk that fills up mid-write or is read-only, on a real file system: a small tmpfs, mounted where the test
runs as root (where it cannot mount one, it skips). The user gets one line saying so, exit 2 (the
API: 507), and what was there before is intact."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.cli import main
from qa.core.paths import MODELS_DIR


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _notes(folder: Path, files: int, words: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(files):
        text = " ".join(f"Unit {i} line {j} holds the spare parts of shelf {i * 100 + j}." for j in range(words // 10))
        (folder / f"note{i}.txt").write_text(text, encoding="utf-8")
    return folder


def one_error_line(err: str, said: str) -> None:
    progress = ("encoding", "reading", "read ")  # the bars, and the count of the files read
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(progress)]
    assert len(lines) == 1 and said in lines[-1] and "Traceback" not in err, err


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_a_full_disk_is_one_line_and_leaves_what_was_there(tmp_path: Path, monkeypatch, capsys) -> None:
    """`qa index` printed a FAISS traceback (or, with --dense fp16, "12889 requested and 4064
    written"), `qa cqa import` two chained SQLite tracebacks, and the API a 500."""
    with small_disk(tmp_path / "disk", "512k") as disk:
        monkeypatch.setenv("QA_INDEX_DIR", str(disk / "idx"))
        monkeypatch.setenv("QA_CQA_STORE", str(disk / "threads.sqlite"))
        monkeypatch.setenv("QA_CQA_SEED", "false")
        monkeypatch.setenv("QA_INCLUDE_DEFAULT", "false")
        assert main(["index", str(_notes(tmp_path / "small", 2, 40)), "--name", "notes"]) == 0
        big = _notes(tmp_path / "big", 70, 1000)
        for dense in ("flat", "fp16"):
            capsys.readouterr()
            assert main(["index", str(big), "--name", "notes", "--replace", "--dense", dense]) == 2
            one_error_line(capsys.readouterr().err, f"No space left on device: {disk / 'idx'}")
        assert sorted(p.name for p in (disk / "idx").iterdir()) == ["notes"]  # no staging folder left
        assert main(["ask", "Which unit holds shelf 105?", "--collection", "notes", "--json"]) == 0
        top = json.loads(capsys.readouterr().out)["answers"][0]
        assert "Unit 1" in (top["best_guess"] or top)["evidence"]["text"]  # the collection as it was

        assert main(["cqa", "add", "Where is the canteen?", "--answer", "On the second floor."]) == 0
        faq = tmp_path / "faq.jsonl"
        with faq.open("w", encoding="utf-8") as fh:
            for i in range(2000):
                fh.write(json.dumps({"question": f"Where is meeting room {i} of building {i * 7}?",
                                     "answer": f"Room {i} is on floor {i % 9}, " + "next to the lifts. " * 20}) + "\n")
        capsys.readouterr()
        assert main(["cqa", "import", str(faq), "--no-embed"]) == 2
        one_error_line(capsys.readouterr().err, f"No space left on device: {disk / 'threads.sqlite'}")
        from cqa.store import ThreadStore

        with ThreadStore(disk / "threads.sqlite") as store:
            assert store.count() == 1  # the import whole or not at all

        from fastapi.testclient import TestClient

        from qa.api import create_app
        from qa.core.settings import Settings

        docs = [{"id": f"d{i}", "text": "Spare parts and shelves. " * 2000} for i in range(10)]
        with TestClient(base_url="http://127.0.0.1", app=create_app(Settings.load(request_timeout_s=600))) as c:
            r = c.post("/v1/documents", json={"collection": "notes", "documents": docs})
            assert r.status_code == 507 and r.json()["error"]["type"] == "insufficient_storage", r.text
            assert str(disk) not in r.text  # the server's paths stay its own


def test_a_thread_store_on_a_read_only_disk_answers_and_refuses_writes(tmp_path: Path, monkeypatch, capsys) -> None:
    """Every `qa ask` stopped with "cannot use the thread store" (exit 2), graph questions too; then
    the store was left out with a warning. On a read-only disk (a read-only deployment) it is read
    as the unchanging file it is, and a write is refused saying why."""
    from cqa.store import ThreadStore

    with small_disk(tmp_path / "disk", "1m") as disk:
        with ThreadStore(disk / "threads.sqlite") as store:
            key, _ = store.put_thread("faq", "1", "Where is the canteen?", "")
            store.put_answer(key, "a", "On the second floor, next to the lifts.", accepted=True)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        monkeypatch.setenv("QA_CQA_STORE", str(disk / "threads.sqlite"))
        monkeypatch.setenv("QA_CQA_SEED", "false")
        assert main(["ask", "What is the capital of France?", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["answers"][0]["text"] == "Paris"
        assert main(["ask", "Where is the canteen?", "--route", "cqa", "--json"]) == 0
        assert "second floor" in capsys.readouterr().out
        assert main(["cqa", "add", "Where is the gym?", "--answer", "Basement."]) == 2
        one_error_line(capsys.readouterr().err, "is read-only for this user")
