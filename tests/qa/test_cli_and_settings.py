"""The application layer: settings precedence, user errors as exit code 2, and WebQA end to end
on the shipped default index and the shipped span reader."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from qa.cli import main
from qa.errors import InputError
from qa.paths import MODELS_DIR
from qa.settings import Settings
from qa.types import Answer, Question


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "qa.toml"
    cfg.write_text('top_k = 7\nspan_model = "/from/file"\n')
    monkeypatch.setenv("QA_TOP_K", "9")
    s = Settings.load(cfg)
    assert s.top_k == 9 and s.span_model == "/from/file"
    assert Settings.load(cfg, top_k=3).top_k == 3


def test_settings_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("top_k = = 1")
    with pytest.raises(InputError):
        Settings.load(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("nope = 1")
    with pytest.raises(InputError, match="unknown settings"):
        Settings.load(unknown)
    monkeypatch.setenv("QA_TOP_K", "many")
    with pytest.raises(InputError, match="not a number"):
        Settings.load()


def test_question_validation() -> None:
    with pytest.raises(InputError):
        Question("   ")
    with pytest.raises(InputError):
        Question("x" * 1_000_000)
    assert Question("Who?").text == "Who?"
    none = Answer.none("webqa", score=0.9)
    assert none.no_answer and none.to_dict()["route"] == "webqa"


@pytest.mark.parametrize("argv", [["ask", ""], ["ask", "x" * 100_000], ["read", "--context", "c", "--question", ""]])
def test_bad_questions_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_megabyte_question_on_stdin_exit_2(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a" * 1_000_000)))
    assert main(["ask", "-"]) == 2
    assert "longer than the limit" in capsys.readouterr().err


def test_missing_model_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--context", "Paris is in France.", "--question", "Where?", "--model",
                 str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err


def test_missing_index_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Where is Paris?", "--index", str(tmp_path / "none")]) == 2
    assert "index folder not found" in capsys.readouterr().err


@pytest.mark.skipif(not (MODELS_DIR / "span-minilm-l6" / "config.json").exists(), reason="no shipped reader")
def test_webqa_answers_from_the_default_collection() -> None:
    from qa.webqa import WebQA

    answers = WebQA(Settings.load()).ask("Who developed the theory of general relativity?", top_k=3, read_k=4)
    assert answers and not answers[0].no_answer
    top = answers[0]
    assert "Einstein" in top.text
    assert top.route == "webqa" and 0.0 <= top.score <= 1.0
    assert top.evidence is not None and top.evidence[top.start : top.end] == top.text
    assert {"retrieve_s", "read_s"} <= set(top.timings)
    texts = [a.text.lower() for a in answers if not a.no_answer]
    assert len(texts) == len(set(texts))  # identical answers are merged
