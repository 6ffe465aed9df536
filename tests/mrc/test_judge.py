"""The answer judge's mechanics with a tiny random encoder: training saves a folder the judge
loads, scores come back one per pair in order, and broken folders fail with a clear message.
How well it judges is the semeval-cqa benchmark's job, with the trained judge."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mrc.judge import JUDGE_CONFIG, AnswerJudge, JudgeHead
from mrc.train_judge import JudgeRecipe, train_judge
from qa.core.errors import InputError, ModelNotFoundError

PAIRS = [("Where do I renew my residence permit?", "At the immigration office in Al Gharafa."),
         ("Where do I renew my residence permit?", "Thanks, same question here."),
         ("Which bank is best for a salary account?", "Commercial Bank, the service is good."),
         ("Which bank is best for a salary account?", "Thanks, same question here.")] * 4
LABELS = [True, False, True, False] * 4


@pytest.fixture(scope="module")
def tiny_judge(tiny_span_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("judge") / "judge"
    steps: list[tuple[int, int]] = []
    train_judge(tiny_span_dir, PAIRS, LABELS, out, recipe=JudgeRecipe(epochs=20, lr=2e-3, batch_size=8),
                meta={"data": "test"}, progress=lambda s, n, loss: steps.append((s, n)))
    assert steps[-1] == (40, 40)  # 16 pairs / 8 per batch * 20 epochs
    return out


def test_trained_judge_loads_and_learns_its_training_pairs(tiny_judge: Path) -> None:
    head = json.loads((tiny_judge / JUDGE_CONFIG).read_text())
    assert head["meta"]["pairs"] == 16 and head["meta"]["positives"] == 8 and head["max_length"] == 192
    judge = AnswerJudge(model_dir=tiny_judge, backend="torch")
    scores = judge.score(PAIRS[:4])
    assert len(scores) == 4 and all(math.isfinite(s) for s in scores)
    assert scores[0] > scores[1] and scores[2] > scores[3]  # the chatter scores lower
    assert judge.score(PAIRS[:4]) == scores  # inference is deterministic
    # the ONNX copy (head included) reads the same pairs the same way; int8 keeps the order
    exported = AnswerJudge(model_dir=tiny_judge, backend="onnx-fp32").score(PAIRS[:4])
    assert max(abs(a - b) for a, b in zip(exported, scores, strict=True)) < 1e-3
    int8 = AnswerJudge(model_dir=tiny_judge).score(PAIRS[:4])
    assert AnswerJudge(model_dir=tiny_judge).backend == "onnx" and int8[0] > int8[1] and int8[2] > int8[3]
    assert judge.score([]) == []
    # an empty answer or a huge question still scores (cut to the judge's input length)
    for backend in ("torch", "onnx"):
        assert len(AnswerJudge(model_dir=tiny_judge, backend=backend).score([("x " * 5000, ""), ("", "yes")])) == 2


def test_training_refuses_mismatched_or_empty_data(tiny_span_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="same number"):
        train_judge(tiny_span_dir, PAIRS[:3], LABELS[:2], tmp_path / "j")
    with pytest.raises(InputError, match="same number"):
        train_judge(tiny_span_dir, [], [], tmp_path / "j")


def test_missing_or_broken_judge_folders_fail_clearly(tiny_judge: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="absent: folder not found"):
        AnswerJudge(model_dir=tmp_path / "absent")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_judge.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / JUDGE_CONFIG).write_text('{"weight": [], "bias": 0}')
    with pytest.raises(ModelNotFoundError, match="empty weights"):
        AnswerJudge(model_dir=broken).score(PAIRS[:1])
    (broken / JUDGE_CONFIG).write_text("not json")
    with pytest.raises(ModelNotFoundError, match="not an answer judge"):
        JudgeHead.load(broken)


def _semeval_xml(path: Path, n_questions: int = 10) -> Path:
    """A small SemEval-2016 Task 3 file: each new question with two related threads of four comments,
    the good ones answering, the bad ones chatting."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<xml version="1.0">']
    for q in range(n_questions):
        parts.append(f'<OrgQuestion ORGQ_ID="Q{q}"><OrgQSubject>where to renew permit {q}</OrgQSubject>'
                     f"<OrgQBody>need help {q}</OrgQBody>")
        for r in range(2):
            tid = f"Q{q}_R{r}"
            parts.append(f'<Thread THREAD_SEQUENCE="{tid}"><RelQuestion RELQ_ID="{tid}" RELQ_RANKING_ORDER="{r + 1}" '
                         f'RELQ_CATEGORY="Visas" RELQ_DATE="2010-01-01 10:00:00" RELQ_USERID="U{q}" '
                         f'RELQ_USERNAME="asker{q}" RELQ_RELEVANCE2ORGQ="Relevant"><RelQSubject>permit renewal '
                         f"{q} {r}</RelQSubject><RelQBody>where do I renew it {q}</RelQBody></RelQuestion>")
            for c in range(4):
                good = c % 2 == 0
                text = (f"Go to the immigration office in district {q}{r}{c}, bring your passport." if good
                        else f"Thanks {q}{r}{c}, I wonder about that too.")
                parts.append(f'<RelComment RELC_ID="{tid}_C{c}" RELC_DATE="2010-01-01 11:00:00" RELC_USERID="V{c}" '
                             f'RELC_USERNAME="user{c}" RELC_RELEVANCE2ORGQ="Good" RELC_RELEVANCE2RELQ='
                             f'"{"Good" if good else "Bad"}"><RelCText>{text}</RelCText></RelComment>')
            parts.append("</Thread>")
        parts.append("</OrgQuestion>")
    parts.append("</xml>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def test_train_judge_command_trains_twice_and_fits_the_stack(tiny_span_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a fresh store for the small file
    monkeypatch.setenv("QA_SPAN_MODEL", str(tiny_span_dir))
    data = _semeval_xml(tmp_path / "train.xml")
    out, stack = tmp_path / "judge", tmp_path / "stack.json"
    (out).mkdir()
    (out / JUDGE_CONFIG).write_text('{"weight": [0.0], "bias": 0.0}')  # the judge before (only judges are replaced)
    (out / "stale.txt").write_text("replaced")
    (out / "README.md").write_text("# the judge before, with notes written by hand\n")
    assert main(["cqa", "train-judge", "--train-file", str(data), "--out", str(out), "--epochs", "1",
                 "--stack-out", str(stack)]) == 0
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert "judge on 80 comments" in err, err[-600:]
    assert (out / JUDGE_CONFIG).exists() and not (out / "stale.txt").exists()
    assert not (tmp_path / "judge.old").exists()
    # the new judge has a card of its own; the replaced one, notes and all, is kept beside it
    card = (out / "README.md").read_text()
    assert "train.xml`: 80 comments" in card and "Held-out fold" in card and "nan" not in card
    assert "written by hand" in (out / "README.previous.md").read_text()
    assert "`stack.json`" in card  # the combination named where --stack-out put it
    # retrained again: the generated card is replaced, the hand-written one is still kept
    assert main(["cqa", "train-judge", "--train-file", str(data), "--out", str(out), "--epochs", "1",
                 "--stack-out", str(stack)]) == 0
    assert "written by hand" in (out / "README.previous.md").read_text()
    meta = json.loads(stack.read_text())
    assert meta["features"] == ["answer", "judge"] and meta["meta"]["rows"] == 16  # two of ten questions held out
    assert main(["cqa", "train-judge", "--train-file", str(tmp_path / "absent.xml"), "--out", str(out)]) == 2
    assert "training file not found" in capsys.readouterr().err


def test_cqa_train_refits_only_the_models_asked_for(tiny_span_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A new span reader calls for the answer models alone: `--models answers` leaves the re-scorer
    (and with it subtask B and the shown probability) as it was, and `--out` trains beside the
    shipped models instead of over them."""
    from cqa.matcher import ANSWER_RANKER, ANSWER_WORDING, RESCORER
    from qa.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("QA_SPAN_MODEL", str(tiny_span_dir))
    shipped = {p: p.read_bytes() for p in (RESCORER, ANSWER_RANKER, ANSWER_WORDING)}
    data = _semeval_xml(tmp_path / "train.xml")
    answers, rescorer = tmp_path / "answers", tmp_path / "rescorer"
    assert main(["cqa", "train", "--train-file", str(data), "--models", "answers", "--out", str(answers)]) == 0
    assert sorted(p.name for p in answers.iterdir()) == [ANSWER_RANKER.name, ANSWER_WORDING.name]
    assert json.loads((answers / ANSWER_RANKER.name).read_text())["meta"]["data"] == "train.xml"
    assert main(["cqa", "train", "--train-file", str(data), "--models", "rescorer", "--out", str(rescorer)]) == 0
    assert sorted(p.name for p in rescorer.iterdir()) == [RESCORER.name]
    assert "re-scorer on 20 pairs" in " ".join(capsys.readouterr().err.split())
    assert {p: p.read_bytes() for p in shipped} == shipped  # the shipped models are untouched
    (tmp_path / "file").write_text("x")
    # a folder the result cannot be written into is refused before minutes of training, not after
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        assert main(["cqa", "train", "--train-file", str(data), "--out", str(out)]) == 2
        assert "is a file, not a folder" in " ".join(capsys.readouterr().err.split())
    assert main(["cqa", "train-judge", "--train-file", str(data), "--out", str(tmp_path / "judge"),
                 "--stack-out", str(tmp_path / "file" / "stack.json")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not (tmp_path / "judge").exists()


def test_train_judge_stack_only_keeps_the_installed_judge(tiny_span_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """After `qa cqa train` refits the answer model, the combination is refitted alone: the judge
    folder is left byte for byte, and without a judge there is nothing to fit it for."""
    from qa.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("QA_SPAN_MODEL", str(tiny_span_dir))
    data = _semeval_xml(tmp_path / "train.xml")
    out, stack = tmp_path / "judge", tmp_path / "stack.json"
    assert main(["cqa", "train-judge", "--train-file", str(data), "--out", str(out), "--stack-only",
                 "--stack-out", str(stack)]) == 2
    assert "model folder not found" in capsys.readouterr().err and not stack.exists()
    assert main(["cqa", "train-judge", "--train-file", str(data), "--out", str(out), "--epochs", "1",
                 "--stack-out", str(stack)]) == 0
    judge = {p.name: p.read_bytes() for p in out.iterdir()}
    stack.unlink()
    capsys.readouterr()
    assert main(["cqa", "train-judge", "--train-file", str(data), "--out", str(out), "--epochs", "1",
                 "--stack-only", "--stack-out", str(stack)]) == 0
    assert "refitted the combination" in " ".join(capsys.readouterr().err.split())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == judge
    assert json.loads(stack.read_text())["meta"]["rows"] == 16
