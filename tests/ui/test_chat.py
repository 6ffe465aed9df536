"""`qa chat` in a real process over the small corpus: loads once, answers line after line,
rewrites follow-ups and shows the rewrite; bad lines are reported and skipped; bad options exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.api.conftest import REPO


def run_chat(env: dict[str, str], stdin: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", "chat", *args], input=stdin, capture_output=True, cwd=REPO,
                          env={**os.environ, **env, "COLUMNS": "160", "OMP_NUM_THREADS": "1"}, timeout=600)


def test_a_conversation_with_follow_ups(corpus_env) -> None:
    lines = ("When did Nikola Tesla die?\nWhere was he born?\n\xff\xfe not text\n/route kbqa\n"
             "What is the capital of France?\nAnd Germany?\n/new\nAnd Japan?\n/quit\n").encode("latin-1")
    r = run_chat(corpus_env, lines, "--route", "webqa")
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, err
    assert "7 January 1943" in out
    assert "understood as: Where was Nikola Tesla born?" in out and "Smiljan" in out
    assert "understood as: What is the capital of Germany?" in out and "Berlin" in out
    assert "not UTF-8" in err and "Traceback" not in err
    assert "understood as: " + "What is the capital of Japan?" not in out  # /new forgot the conversation


def test_bad_options_are_one_line_and_exit_2(corpus_env, tmp_path) -> None:
    r = run_chat(corpus_env, b"", "--graph", str(tmp_path / "missing.ttl"))
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1 and "graph file not found" in r.stderr.decode()
    r = run_chat(corpus_env, b"What?\n", "--route", "sideways")
    assert r.returncode == 2 and "route" in r.stderr.decode()
