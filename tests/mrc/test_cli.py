"""`qa read` and `qa eval` end to end through `qa.cli.main` with tiny random readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main

SQUAD_V2 = {
    "version": "v2.0",
    "data": [
        {
            "title": "T",
            "paragraphs": [
                {
                    "context": "Paris is the capital of France. It has many museums.",
                    "qas": [
                        {
                            "id": "a",
                            "question": "What is the capital?",
                            "answers": [{"text": "Paris", "answer_start": 0}],
                        },
                        {"id": "b", "question": "Who won?", "answers": [], "is_impossible": True},
                    ],
                }
            ],
        }
    ],
}
RACE_LINE = {
    "id": "m1.txt",
    "level": "middle",
    "article": "Tom likes apples.",
    "questions": ["What does Tom like?", "Tom likes _ ."],
    "options": [["apples", "pears", "figs", "kiwis"], ["apples", "cars", "dogs", "sky"]],
    "answers": ["A", "B"],
}


def test_read_span(tiny_span_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["read", "--model", str(tiny_span_dir), "-q", "Capital?", "-c", "Paris is the capital.", "--json"]
    )
    assert code == 0
    answers = json.loads(capsys.readouterr().out)
    assert len(answers) == 1 and {"text", "score", "no_answer"} <= set(answers[0])


def test_read_takes_its_context_from_standard_input(tiny_span_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Paris is the capital.")))
    assert main(["read", "--model", str(tiny_span_dir), "-q", "Capital?", "-f", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["evidence"]["text"] == "Paris is the capital."


def test_read_span_marked(tiny_span_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = tmp_path / "c.txt"
    ctx.write_text("Zürich is a city in Switzerland.", encoding="utf-8")
    args = ["read", "--model", str(tiny_span_dir), "-q", "Where?", "--context-file", str(ctx), "--top-k", "2"]
    assert main(args) == 0
    assert "1." in capsys.readouterr().out


def test_read_options(tiny_choice_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["read", "--model", str(tiny_choice_dir), "-q", "What?", "-c", "Tom likes apples.", "-o", "apples"]
    assert main([*args, "-o", "pears", "--json"]) == 0
    probs = [r["score"] for r in json.loads(capsys.readouterr().out)]
    assert len(probs) == 2 and sum(probs) == pytest.approx(1.0, abs=1e-5)
    assert main(args) == 2  # a single option is not a choice
    capsys.readouterr()
    assert main([*args, "-o", "caf\udce9"]) == 2  # undecodable command-line bytes, as Python hands them over
    err = capsys.readouterr().err
    assert "option 2 is not valid UTF-8 text" in err and "Traceback" not in err
    assert main([*args, "-o", "pears", "--top-k", "3"]) == 2  # dropped without a word: every option is shown
    assert "--top-k is for span answers" in capsys.readouterr().err


def test_read_errors(tmp_path: Path, tiny_span_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["read", "--model", str(tmp_path / "none"), "-q", "Who?", "-c", "text"]) == 2
    err = capsys.readouterr().err
    assert f"span reader at {tmp_path / 'none'}: folder not found" in err and "Traceback" not in err
    assert main(["read", "--model", str(tiny_span_dir), "-q", "Who?"]) == 2
    assert main(["read", "--model", str(tiny_span_dir), "-q", "   ", "-c", "text"]) == 2
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9")
    assert main(["read", "--model", str(tiny_span_dir), "-q", "Who?", "-f", str(bad)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["read", "--model", str(tiny_span_dir), "-q", "Who?", "-f", str(tmp_path)]) == 2
    assert "is a folder, not a file" in capsys.readouterr().err


def test_a_reader_folder_of_the_other_kind_is_refused(tiny_span_dir: Path, tiny_choice_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A multiple-choice model read as a span reader gave confident nonsense with exit 0."""
    assert main(["read", "--model", str(tiny_choice_dir), "-q", "Who?", "-c", "Tom was here."]) == 2
    assert "holds a multiple-choice reader, not a span (extractive) one" in capsys.readouterr().err
    data = tmp_path / "race.jsonl"
    data.write_text(json.dumps({"id": "a", "article": "Tom likes apples.", "questions": ["What does Tom like?"],
                                "options": [["apples", "pears"]], "answers": ["A"]}) + "\n")
    assert main(["eval", "race", str(data), "--model", str(tiny_span_dir)]) == 2
    assert "holds a span (extractive) reader, not a multiple-choice one" in capsys.readouterr().err
    # a folder with no reader head at all (the answer judge, a sentence encoder) read as either one
    # answered "is the" at 0.51 with exit 0: its head was a random one
    from transformers import BertConfig, BertModel

    plain = tmp_path / "plain"
    BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=37)).save_pretrained(str(plain))
    assert main(["read", "--model", str(plain), "-q", "Who?", "-c", "Tom was here."]) == 2
    assert "holds a BertModel model, not a span (extractive) reader" in capsys.readouterr().err
    assert main(["eval", "race", str(data), "--model", str(plain)]) == 2
    assert "not a multiple-choice reader" in capsys.readouterr().err
    train = tmp_path / "train.json"  # compress said "lists no held-out training articles" of a choice reader
    train.write_text('{"data": []}', encoding="utf-8")
    assert main(["compress", "span", "--model-dir", str(tiny_choice_dir), "--train-file", str(train),
                 "--out", str(tmp_path / "c")]) == 2
    assert "holds a multiple-choice reader, not a span (extractive) one" in capsys.readouterr().err


def test_eval_squad_v2(tiny_span_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "dev.json"
    data.write_text(json.dumps(SQUAD_V2))
    preds, metrics = tmp_path / "p.json", tmp_path / "m.json"
    args = [
        "eval",
        "squad",
        str(data),
        "--model",
        str(tiny_span_dir),
        "--out",
        str(preds),
        "--metrics-out",
        str(metrics),
    ]
    assert main(args) == 0
    assert set(json.loads(preds.read_text())) == {"a", "b"}
    na = json.loads((tmp_path / "p_na_probs.json").read_text())
    assert all(0.0 <= v <= 1.0 for v in na.values())
    m = json.loads(metrics.read_text())
    assert m["version"] == 2 and {"HasAns_f1", "NoAns_f1", "best_f1"} <= set(m)
    assert "HasAns_exact" in capsys.readouterr().out


def test_eval_squad_without_out_writes_nothing(tiny_span_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The metrics alone: no predictions file lands in the working folder unasked."""
    data = tmp_path / "data" / "dev.json"
    data.parent.mkdir()
    data.write_text(json.dumps(SQUAD_V2))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["eval", "squad", str(data), "--model", str(tiny_span_dir)]) == 0
    assert list(work.iterdir()) == [] and sorted(p.name for p in data.parent.iterdir()) == ["dev.json"]
    assert "HasAns_exact" in capsys.readouterr().out
    # --na-probs alone writes the no-answer probabilities alone
    assert main(["eval", "squad", str(data), "--model", str(tiny_span_dir), "--na-probs", str(work / "na.json")]) == 0
    assert [p.name for p in work.iterdir()] == ["na.json"]


def test_eval_refuses_outputs_that_replace_the_data_set_or_each_other(tiny_span_dir: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "dev.json"
    data.write_text(json.dumps(SQUAD_V2))
    base = ["eval", "squad", str(data), "--model", str(tiny_span_dir)]
    for extra, needle in ((["--out", str(data)], "--out"), (["--metrics-out", str(data)], "--metrics-out")):
        assert main([*base, *extra]) == 2
        assert f"{needle} {data} is the file being read" in capsys.readouterr().err
    assert json.loads(data.read_text()) == SQUAD_V2  # the data set is intact
    p = tmp_path / "p.json"
    assert main([*base, "--out", str(p), "--metrics-out", str(p)]) == 2
    assert "--out and --metrics-out name the same file" in capsys.readouterr().err and not p.exists()
    # --version 1 on a v2.0 file counted every unanswerable question wrong without a word
    assert main([*base, "--version", "1"]) == 2
    assert "holds unanswerable questions" in capsys.readouterr().err


def test_eval_squad_v1_limit(tiny_span_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "dev.json"
    doc = json.loads(json.dumps(SQUAD_V2))
    doc["version"] = "1.1"
    doc["data"][0]["paragraphs"][0]["qas"].pop()
    data.write_text(json.dumps(doc))
    preds, metrics = tmp_path / "p.json", tmp_path / "m.json"
    args = [
        "eval",
        "squad",
        str(data),
        "-m",
        str(tiny_span_dir),
        "-o",
        str(preds),
        "--metrics-out",
        str(metrics),
    ]
    assert main([*args, "--limit", "1"]) == 0
    assert json.loads(preds.read_text())["a"] != ""  # v1.1 always answers
    assert json.loads(metrics.read_text())["total"] == 1


def test_eval_race(tiny_choice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "race.jsonl"
    data.write_text(json.dumps(RACE_LINE) + "\n")
    preds = tmp_path / "p.json"
    assert main(["eval", "race", str(data), "-m", str(tiny_choice_dir), "-o", str(preds)]) == 0
    assert set(json.loads(preds.read_text())) == {"m1.txt-0", "m1.txt-1"}
    said = capsys.readouterr()
    assert "middle" in said.out and f"predictions: {preds}" in said.err.replace("\n", "")


@pytest.mark.parametrize("kind", ["squad", "race"])
def test_eval_malformed_exit_2(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / ("bad.json" if kind == "squad" else "bad.jsonl")
    bad.write_text('{"data": [{"paragraphs": [{"qas": []}]}]}' if kind == "squad" else '{"article": "x"}\n')
    assert main(["eval", kind, str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "missing" in err and "Traceback" not in err
    (tmp_path / "broken.json").write_text("{oops")
    assert main(["eval", kind, str(tmp_path / "broken.json")]) == 2
    assert main(["eval", kind, str(tmp_path / "absent.json")]) == 2


def test_eval_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "dev.json"
    data.write_text(json.dumps(SQUAD_V2))
    assert main(["eval", "squad", str(data), "--model", str(tmp_path / "nope")]) == 2
    # a typo in --model, not a shipped reader to train ("Train it with `qa train span`" misled)
    err = capsys.readouterr().err
    assert f"no trained span reader at {tmp_path / 'nope'}: folder not found" in err and "Train it" not in err


def test_eval_refuses_an_output_it_cannot_write_before_reading(tiny_span_dir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "dev.json"
    data.write_text(json.dumps(SQUAD_V2))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for out in (tmp_path, blocker / "p.json"):
        args = ["eval", "squad", str(data), "--model", str(tiny_span_dir), "--out", str(out)]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "cannot write" in err and "SQuAD v2" not in err  # refused before any question was read
    (tmp_path / "p_na_probs.json").mkdir()  # where v2.0's no-answer probabilities would go by default
    assert main(["eval", "squad", str(data), "--model", str(tiny_span_dir), "--out", str(tmp_path / "p.json")]) == 2
    assert "p_na_probs.json: it is a folder" in capsys.readouterr().err and not (tmp_path / "p.json").exists()
    assert main(["eval", "squad", str(data), "--model", str(tiny_span_dir), "--out", ""]) == 2  # was a traceback
    assert "--out is empty (an unset shell variable?)" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "said"), [
    (["train", "span", "--batch-size", "0"], "--batch-size must be a number above 0"),
    (["train", "span", "--learning-rate", "-1"], "--learning-rate must be a number above 0"),
    # inf and nan are numbers to the option parser: inf trained a reader a quarter NaN and installed it
    (["train", "span", "--learning-rate", "inf"], "--learning-rate must be a number above 0, not inf"),
    (["train", "span", "--learning-rate", "nan"], "--learning-rate must be a number above 0, not nan"),
    (["train", "span", "--epochs", "inf"], "--epochs must be a number above 0, not inf"),
    (["train", "span", "--max-minutes", "inf"], "--max-minutes must be 0 (no limit) or more"),
    (["compress", "span", "--learning-rate", "inf"], "--learning-rate must be a finite number"),
    (["train", "average", "--model", "a", "--model", "b", "--weight", "nan", "--weight", "nan"], "--weight: give"),
    (["train", "span", "--precision", "fp8"], "--precision must be one of auto, fp32, bf16, fp16"),
    (["train", "span", "--max-seq-length", "16", "--doc-stride", "128"], "no room for the question"),
    (["train", "span", "--epochs", "-1"], "--epochs must be a number above 0"),
    (["train", "span", "--max-minutes", "-1"], "--max-minutes must be 0 (no limit) or more"),
    (["train", "span", "--limit", "-1"], "--limit must be 0 (no limit) or more"),
    (["train", "span", "--device", "gpu"], "--device must be one of cpu, cuda, auto"),
    (["train", "span", "--resume"], "holds no checkpoint.pt to continue from"),  # trained from scratch, exit 0
    # a reserve that eats the budget trained one step, installed that over the shipped reader, exit 0
    (["train", "span", "--max-minutes", "1", "--reserve-minutes", "2"], "--reserve-minutes 2 leaves no time"),
    (["train", "calibrate-span", "--device", "gpu"], "--device must be one of"),
    (["train", "calibrate-span", "--limit", "-5"], "--limit must be 0"),
    (["train", "calibrate-webqa", "--limit", "-1"], "--limit must be 0"),  # was every question but the last
    (["train", "choice", "--train-file", "x.jsonl", "--max-seq-length", "4"], "--max-seq-length must lie between"),
])
def test_training_options_that_can_never_work_are_refused_before_anything_runs(tmp_path, capsys, argv, said):
    """Tracebacks (a batch of 0, a negative learning rate, fp8), or worse: a negative --epochs
    trained one step and installed that model over the shipped reader, exit 0."""
    out = {"span": "--output-dir", "choice": "--output-dir", "average": "--out"}.get(argv[1])
    if argv[0] == "compress":
        out = "--out"
    assert main([*argv, *([out, str(tmp_path / "out")] if out else [])]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_training_into_a_folder_that_holds_a_reader_needs_replace(tmp_path, capsys, tiny_span_dir):
    """`qa train span` with its default --output-dir replaced the shipped reader without a word."""
    import shutil

    held = tmp_path / "held"
    shutil.copytree(tiny_span_dir, held)
    (held / "qa_reader.json").write_text(json.dumps({"task": "span"}))
    before = sorted(p.name for p in held.iterdir())
    squad = tmp_path / "s.json"
    squad.write_text(json.dumps({"version": "1.1", "data": [{"title": t, "paragraphs": [{
        "context": "Paris is in France.", "qas": [{"id": t, "question": "Where is Paris?",
                                                    "answers": [{"text": "France", "answer_start": 12}]}]}]}
        for t in ("a", "b")]}))
    assert main(["train", "span", "--train-file", str(squad), "--output-dir", str(held), "--device", "cpu"]) == 2
    assert "holds a span reader: give --replace to replace it" in " ".join(capsys.readouterr().err.split())
    assert sorted(p.name for p in held.iterdir()) == before


def test_a_missing_eval_file_is_said_before_the_training(tmp_path, capsys):
    """It was read after the training: the whole run lost, and 45 MB of staged model left behind."""
    race = tmp_path / "race.jsonl"
    race.write_text(json.dumps({"id": "a", "article": "Tom has a red ball.", "questions": ["What colour?"],
                                "options": [["red", "blue", "green", "pink"]], "answers": ["A"]}) + "\n")
    for argv in (["train", "choice", "--train-file", str(race), "--eval-file", str(tmp_path / "missing.jsonl")],
                 ["train", "span", "--eval-file", str(tmp_path / "missing.json")]):
        assert main([*argv, "--output-dir", str(tmp_path / "out")]) == 2
        assert "missing" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


def test_the_trainer_takes_the_windows_the_reader_takes() -> None:
    """--max-seq-length 256 with the default stride of 128 was refused by a stricter rule than the
    reader's own."""
    from mrc.span import question_room

    assert question_room(256, 128) >= 8 and question_room(384, 128) >= 8 and question_room(16, 128) < 8


def test_a_stopped_training_says_nothing_was_saved_and_leaves_no_folder_of_its_own(tmp_path) -> None:
    """Ctrl-C said only "stopped before finishing", and left a new --output-dir holding an empty
    training log (which `qa read` then refused as "no config.json")."""
    import qa.cli
    from qa.commands.train import _cleaned_up

    new = tmp_path / "new"
    try:
        with pytest.raises(KeyboardInterrupt), _cleaned_up(new):
            new.mkdir()
            (new / "training_log.jsonl").write_text("")
            raise KeyboardInterrupt
        assert not new.exists() and qa.cli._stopped_note == "no new reader was installed"
        kept = tmp_path / "kept"
        kept.mkdir()
        (kept / "config.json").write_text("{}")
        with pytest.raises(KeyboardInterrupt), _cleaned_up(kept):
            raise KeyboardInterrupt
        assert kept.exists() and qa.cli._stopped_note.endswith(f"the reader in {kept} is the one that was there")
        resumable = tmp_path / "resumable"
        with pytest.raises(KeyboardInterrupt), _cleaned_up(resumable):
            resumable.mkdir()
            (resumable / "checkpoint.pt").write_bytes(b"")
            raise KeyboardInterrupt
        assert resumable.exists() and "--resume carries on" in qa.cli._stopped_note
    finally:
        qa.cli._stopped_note = None
