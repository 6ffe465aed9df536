"""Training smoke tests: a few steps of each trainer on a tiny randomly initialised BERT.

They prove the mechanics (labels, batching, schedule, saving, reloading through the inference
readers), not quality; quality comes from the shipped weights and the benchmarks.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from mrc.training import BudgetSchedule, TrainConfig, length_grouped_batches
from qa.core.errors import InputError
from qa.core.paths import encoder_path

FACTS = [
    ("France", "Paris", "The capital of France is Paris. It lies on the Seine."),
    ("Italy", "Rome", "Italy has many old cities. Its capital is Rome, on the Tiber."),
    ("Japan", "Tokyo", "Japan is an island nation. Tokyo is the capital of Japan."),
    ("Kenya", "Nairobi", "Kenya is in East Africa. The capital of Kenya is Nairobi."),
]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(encoder_path())
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512)
    path = tmp_path_factory.mktemp("tiny-base")
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _squad_file(tmp: Path) -> Path:
    paragraphs = []
    for country, capital, text in FACTS:
        qas = [{"id": f"{country}-{i}", "question": q, "answers": [{"text": capital,
                "answer_start": text.index(capital)}]}
               for i, q in enumerate([f"What is the capital of {country}?", f"Which city is {country}'s capital?"])]
        paragraphs.append({"context": text, "qas": qas})
    data = {"version": "1.1", "data": [{"title": "A", "paragraphs": paragraphs[:2]},
                                       {"title": "B", "paragraphs": paragraphs[2:]}]}
    path = tmp / "train.json"
    path.write_text(json.dumps(data))
    return path


def _other_file(tmp: Path) -> Path:
    path = tmp / "other.json"
    path.write_text(json.dumps({"version": "1.1", "data": []}))
    return path


def _losses(folder: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (folder / "training_log.jsonl").read_text().splitlines()]


def test_span_training_loss_falls_and_model_answers(tiny_base: Path, tmp_path: Path) -> None:
    from mrc.negatives import ADVERSARIAL_MIX
    from mrc.span import SpanReader
    from mrc.train_span import train_span_reader

    out = tmp_path / "span"
    cfg = TrainConfig(output_dir=str(out), base_model=str(tiny_base), epochs=30, batch_size=4,
                      learning_rate=3e-3, warmup_ratio=0.05, device="cpu", log_every=5, seed=1,
                      freeze_word_embeddings=False)
    info = train_span_reader(cfg, str(_squad_file(tmp_path)), ADVERSARIAL_MIX, holdout_articles=1,
                             max_seq_length=64, doc_stride=32)
    losses = _losses(out)
    assert losses[-1] < 0.5 * losses[0]
    assert (out / "config.json").exists() and (out / "qa_reader.json").exists()
    assert not (out / ".trained").exists()  # calibrated in a staging folder, then moved in
    assert "null_threshold" in info and info["training"]["synthetic_unanswerable"] >= 0
    assert info["score_temperature"] > 0  # fitted by the training itself (5.0 had been assumed until calibrate-span)
    assert next(iter((out).glob("*.safetensors")))
    reader = SpanReader(model_dir=out)
    answers = reader.read("What is the capital of France?", FACTS[0][2])
    assert answers and all(0.0 <= a.score <= 1.0 for a in answers)
    best = reader.read_batch([("What is the capital of France?", FACTS[0][2])], allow_no_answer=False)[0][0]
    assert FACTS[0][2][best.start : best.end] == best.text

    # re-calibration on the held-out article rewrites the threshold and keeps the old one
    from mrc.recalibrate import recalibrate_span_reader

    stats = recalibrate_span_reader(out, tmp_path / "train.json", device="cpu")
    saved = json.loads((out / "qa_reader.json").read_text())
    assert saved["calibration"]["method"] == "mrc.recalibrate" and stats["answerable"] == 4
    assert saved["calibration_history"][0]["null_threshold"] == info["null_threshold"]
    assert saved["score_temperature"] > 0
    with pytest.raises(InputError):
        recalibrate_span_reader(out, _other_file(tmp_path), device="cpu")


def test_choice_training_loss_falls_and_model_reloads(tiny_base: Path, tmp_path: Path) -> None:
    from mrc.choice import ChoiceReader, ChoiceRequest
    from mrc.train_choice import train_choice_reader

    rows = []
    for i, (country, capital, text) in enumerate(FACTS):
        others = [c for _, c, _ in FACTS if c != capital]
        options = others[:3]
        options.insert(i % 4, capital)
        rows.append({"id": f"a{i}", "level": "middle", "article": text,
                     "questions": [f"What is the capital of {country}?", f"{country}'s capital is _ ."],
                     "options": [options, options], "answers": ["ABCD"[i % 4]] * 2})
    train = tmp_path / "race.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "choice"
    cfg = TrainConfig(output_dir=str(out), base_model=str(tiny_base), epochs=40, batch_size=4,
                      learning_rate=3e-3, warmup_ratio=0.05, device="cpu", log_every=4, seed=1,
                      freeze_word_embeddings=False)
    info = train_choice_reader(cfg, str(train), max_seq_length=64)
    losses = _losses(out)
    assert losses[-1] < losses[0]
    # mean pooling by default: an encoder folder plus the head in qa_reader.json, and no unused pooler
    saved = json.loads((out / "qa_reader.json").read_text())
    assert saved["choice_head"]["pooling"] == "mean" and len(saved["choice_head"]["weight"]) == 32
    assert json.loads((out / "config.json").read_text())["architectures"] == ["BertModel"]
    assert info["training"]["pooling"] == "mean"
    reader = ChoiceReader(model_dir=out)
    request = ChoiceRequest(question="What is the capital of France?", article=FACTS[0][2],
                            options=("Paris", "Rome", "Tokyo", "Nairobi"))
    probs = reader.probabilities_batch([request])
    assert len(probs[0]) == 4 and abs(sum(probs[0]) - 1) < 1e-4
    assert type(reader.model).__name__ == "MeanPooledChoiceModel"
    assert reader.model.classifier.weight.flatten().tolist() == pytest.approx(saved["choice_head"]["weight"], abs=1e-6)

    # Hugging Face's CLS head stays available, and such a folder reads as before
    cls_out = tmp_path / "choice-cls"
    cfg.output_dir = str(cls_out)
    train_choice_reader(cfg, str(train), max_seq_length=64, pooling="cls")
    cls_reader = ChoiceReader(model_dir=cls_out)
    assert "choice_head" not in json.loads((cls_out / "qa_reader.json").read_text())
    assert type(cls_reader.model).__name__ == "BertForMultipleChoice"
    assert abs(sum(cls_reader.probabilities_batch([request])[0]) - 1) < 1e-4


def test_transfer_pack_unpack_roundtrip(tiny_base: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering

    from mrc.transfer import pack, unpack

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_base)
    src = tmp_path / "model"
    model.save_pretrained(src)
    AutoTokenizer.from_pretrained(tiny_base).save_pretrained(src)
    parts = pack(src, tmp_path / "parts", shard_bytes=20_000)
    assert len(parts) > 1
    assert all("word_embeddings" not in k for p in parts for k in load_file(str(p)))
    out = unpack(tmp_path / "parts", tiny_base, tmp_path / "out")
    back = AutoModelForQuestionAnswering.from_pretrained(out, dtype=torch.float32)
    for k, v in model.state_dict().items():
        assert torch.allclose(back.state_dict()[k], v.half().float(), atol=1e-3), k
    # unpacked again over a reader folder with its card: the model is replaced whole, the card stays
    (out / "README.md").write_text("# the card")
    (out / "model.safetensors").write_bytes(b"an old model")
    unpack(tmp_path / "parts", tiny_base, out)
    assert (out / "README.md").read_text() == "# the card"
    back = AutoModelForQuestionAnswering.from_pretrained(out, dtype=torch.float32)
    assert all(torch.allclose(back.state_dict()[k], v.half().float(), atol=1e-3) for k, v in model.state_dict().items())


def test_budget_schedule_warms_up_and_decays_to_zero() -> None:
    s = BudgetSchedule(100, 0.1)
    assert s(0) == pytest.approx(0.1) and s(9) == pytest.approx(1.0)
    assert s(55) == pytest.approx(0.5) and s(100) == 0.0
    s.total = 50  # shrunk to fit the budget: still reaches zero at the new end
    assert s(50) == 0.0 and 0 < s(25) < 1


def test_length_grouped_batches_cover_every_item_once() -> None:
    lengths = list(np.random.default_rng(0).integers(5, 300, size=1000))
    batches = length_grouped_batches(lengths, 32, np.random.default_rng(1), group_factor=4)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in batches])
    assert spread < 0.5 * (max(lengths) - min(lengths))


def test_train_cli_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    assert main(["train", "choice", "--train-file", str(tmp_path / "none.jsonl"), "--output-dir",
                 str(tmp_path / "out")]) == 2
    assert "training file not found" in capsys.readouterr().err


def test_train_span_refuses_what_would_fail_after_training(tmp_path: Path, tiny_base: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """One article leaves none to calibrate on (a traceback after the whole training, with new
    weights beside the old sidecar); a device torch does not know was a traceback too. Neither
    leaves an empty output folder behind."""
    import json

    from qa.cli import main

    one = tmp_path / "one.json"
    para = {"context": "Tom likes apples.", "qas": [{"id": "q", "question": "What does Tom like?",
                                                      "answers": [{"text": "apples", "answer_start": 10}]}]}
    one.write_text(json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": [para]}]}))
    out = tmp_path / "out"
    base = ["train", "span", "--train-file", str(one), "--output-dir", str(out), "--base-model", str(tiny_base)]
    assert main([*base, "--device", "cpu"]) == 2
    assert "has 1 article(s): training needs at least two" in capsys.readouterr().err
    assert main([*base, "--device", "gpu"]) == 2
    assert "--device must be one of cpu, cuda, auto, not 'gpu'" in capsys.readouterr().err
    assert main([*base, "--device", "cuda:1"]) == 2  # the reading after the training takes cuda alone
    assert "CUDA_VISIBLE_DEVICES=1 and --device cuda" in capsys.readouterr().err
    assert not out.exists()


def test_answer_removed_negatives_drop_every_sentence_with_the_answer() -> None:
    import random

    from mrc.negatives import NegativeMix, make_negatives
    from mrc.train_span import SpanExample

    def answer_removed_negatives(exs, ratio, rng):
        return make_negatives(exs, NegativeMix(answer_removed=ratio), rng)

    ctx = ("The tower was finished in 1889 for the World's Fair. It was designed by Gustave Eiffel's company. "
           "Critics disliked it at first, and some artists signed a petition against it. "
           "Today it is the most visited paid monument in the world, with millions of visitors. "
           "Eiffel kept a private apartment near the top.")
    ex = SpanExample("q1", "Who designed the tower?", ctx, ctx.index("Gustave Eiffel"), "Gustave Eiffel", 0)
    (neg,) = answer_removed_negatives([ex], 1.0, random.Random(0))
    assert neg.answer_start == -1 and "gustave eiffel" not in neg.context.lower()
    assert "Critics disliked it" in neg.context and "1889" in neg.context
    short = SpanExample("q2", "When?", "It opened in 1889. Nothing else.", 13, "1889", 0)
    assert answer_removed_negatives([short], 1.0, random.Random(0)) == []
    assert answer_removed_negatives([ex], 0.0, random.Random(0)) == []


def test_install_model_replaces_the_old_model_whole_and_an_interruption_leaves_one_or_the_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old weights in another layout (one file, against the new shards) were left beside the new
    ones, and a loader may pick them; a run stopped while files moved left a mix of old and new,
    refused by every loader (the shipped reader gone until trained again)."""
    import json
    import os

    from mrc.training import install_model
    from qa.core.paths import INSTALLING

    out, stage = tmp_path / "reader", tmp_path / "reader" / ".trained"

    def staged() -> None:
        stage.mkdir(parents=True)
        for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                     "model.safetensors.index.json", "config.json", "qa_reader.json"):
            (stage / name).write_text("new")

    out.mkdir()
    for name in ("model.safetensors", "config.json", "qa_reader.json", "checkpoint.pt", "training_log.jsonl",
                 "README.md"):
        (out / name).write_text("old")
    before = {p.name: p.read_text() for p in out.iterdir()}
    staged()
    real_replace, moved = os.replace, []

    def stopped_on_the_third(src, dst):  # Ctrl-C while the new model's files move
        moved.append(dst)
        if len(moved) == 3:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", stopped_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        install_model(stage, out, {"task": "span"})
    monkeypatch.setattr(os, "replace", real_replace)
    assert {p.name: p.read_text() for p in out.iterdir() if p.is_file()} == before  # the old model, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reader"]  # no staging folder left beside it
    import shutil

    shutil.rmtree(stage)
    staged()
    install_model(stage, out, {"task": "span"})
    names = {p.name for p in out.iterdir()}
    assert "model.safetensors" not in names and "checkpoint.pt" not in names
    assert {"model-00001-of-00002.safetensors", "training_log.jsonl", "README.md"} <= names  # card and log kept
    assert (out / "config.json").read_text() == "new" and json.loads((out / "qa_reader.json").read_text())["task"]
    assert not stage.exists() and not (out / INSTALLING).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reader"]

    # an install the file system refuses keeps the trained reader, whole, and says where
    import qa.core.atomic

    staged()

    def refused(new, target):
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(qa.core.atomic, "swap_dir", refused)
    from qa.core.errors import InputError

    with pytest.raises(InputError, match=r"it is kept, whole, in .*\.trained"):
        install_model(stage, out, {"task": "span", "run": 2})
    assert json.loads((stage / "qa_reader.json").read_text())["run"] == 2
    assert (stage / "model-00001-of-00002.safetensors").read_text() == "new"


def test_a_reader_is_never_trained_into_a_folder_of_other_things(tmp_path: Path) -> None:
    """A folder of the user's own files lost them (weights.bin removed, config.json replaced), and a
    multiple-choice reader trained into the span reader's folder replaced it, exit 0."""
    import json

    from mrc.training import check_output_dir
    from qa.core.errors import InputError

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "app settings"}')
    with pytest.raises(InputError, match="holds other files and no reader"):
        check_output_dir(mine, "span")
    span = tmp_path / "span"
    span.mkdir()
    (span / "qa_reader.json").write_text(json.dumps({"task": "span"}))
    with pytest.raises(InputError, match="holds a span reader, which the choice reader would replace"):
        check_output_dir(span, "choice")
    with pytest.raises(InputError, match="holds a span reader: give --replace to replace it"):
        check_output_dir(span, "span")  # its own kind: replaced only when asked (the shipped one had been, silently)
    check_output_dir(span, "span", replace=True)
    from qa.core.paths import MODELS_DIR

    with pytest.raises(InputError, match=r"holds a span reader \(the one shipped\): give --replace"):
        check_output_dir(MODELS_DIR / "span-minilm-l6", "span")
    check_output_dir(tmp_path / "new", "choice")
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty", "choice")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        check_output_dir(tmp_path / "file", "span")
    with pytest.raises(InputError, match="is the root folder"):
        check_output_dir(Path("/"), "span")
    (tmp_path / "link").symlink_to(span)  # the finished reader is swapped in: a link cannot take it
    with pytest.raises(InputError, match="is a link or a mount point"):
        check_output_dir(tmp_path / "link", "span")


def _wikiqa_folder(tmp: Path) -> Path:
    """A WikiQA folder in the distribution's own layout: three split TSVs and the answer phrases."""
    import gzip
    import lzma

    head = "QuestionID\tQuestion\tDocumentID\tDocumentTitle\tSentenceID\tSentence\tLabel\n"
    train = [
        ("Q1", "what is the capital of france", "D1", "France", "D1-0", "France is in Europe.", "0"),
        ("Q1", "what is the capital of france", "D1", "France", "D1-1", "The capital of France is Paris.", "1"),
        ("Q2", "how tall is the tower", "D1", "France", "D1-0", "France is in Europe.", "0"),
        ("Q2", "how tall is the tower", "D1", "France", "D1-1", "The capital of France is Paris.", "0"),
        ("Q3", "who wrote hamlet", "D9", "Test doc", "D9-0", "Hamlet is a play.", "1"),
    ]
    test = [("Q7", "what is hamlet", "D9", "Test doc", "D9-0", "Hamlet is a play.", "1")]
    folder = tmp / "wikiqa"
    folder.mkdir()
    for name, rows in (("train", train), ("dev", []), ("test", test)):
        with gzip.open(folder / f"WikiQA-{name}.tsv.gz", "wt", encoding="utf-8", newline="") as f:
            f.write(head + "".join("\t".join(r) + "\r\n" for r in rows))
    phrases = ("QuestionID\tQuestion\tDocumentID\tDocumentTitle\tSentenceID\tSentence\tAnswerPhrase1\t"
               "AnswerPhrase2\tAnswerPhrase3\n"
               "Q1\twhat is the capital of france\tD1\tFrance\tD1-1\tThe capital of France is Paris.\t"
               "NO_ANS\tis Paris\tParis\n"
               "Q3\twho wrote hamlet\tD9\tTest doc\tD9-0\tHamlet is a play.\tShakespeare\t\t\n")
    with lzma.open(folder / "WikiQASent.pos.ans.tsv.xz", "wt", encoding="utf-8") as f:
        f.write(phrases)
    return folder


def test_wikiqa_examples_read_whole_paragraphs_at_the_annotated_phrase(tmp_path: Path) -> None:
    from mrc.train_span import load_wikiqa_examples

    examples = {e.qid: e for e in load_wikiqa_examples(_wikiqa_folder(tmp_path))}
    # Q3's document is read by a test question: never trained on
    assert set(examples) == {"wikiqa-Q1", "wikiqa-Q2"}
    q1, q2 = examples["wikiqa-Q1"], examples["wikiqa-Q2"]
    assert q1.context == "France is in Europe. The capital of France is Paris."
    # NO_ANS is no phrase; between two single votes the shorter wins
    assert q1.answer_text == "Paris" and q1.context[q1.answer_start:].startswith("Paris")
    assert q2.answer_start == -1 and q2.context == q1.context and q1.article == q2.article


def test_span_training_continues_with_wikiqa_and_keeps_the_earlier_stage(tiny_base: Path, tmp_path: Path) -> None:
    from mrc.negatives import ADVERSARIAL_MIX
    from mrc.train_span import train_span_reader

    first, second = tmp_path / "first", tmp_path / "second"
    kw = dict(epochs=2, batch_size=4, learning_rate=1e-3, device="cpu", log_every=5, seed=1)
    train_span_reader(TrainConfig(output_dir=str(first), base_model=str(tiny_base), **kw),
                      str(_squad_file(tmp_path)), ADVERSARIAL_MIX, holdout_articles=1, max_seq_length=64,
                      doc_stride=32)
    info = train_span_reader(TrainConfig(output_dir=str(second), base_model=str(first), **kw),
                             str(_squad_file(tmp_path)), ADVERSARIAL_MIX, holdout_articles=1, max_seq_length=64,
                             doc_stride=32, wikiqa_dir=str(_wikiqa_folder(tmp_path)), wikiqa_repeat=2)
    assert info["training"]["wikiqa"] == {"split": "train", "answerable": 1, "unanswerable": 1,
                                          "answerable_repeat": 2, "examples_used": 3}
    saved = json.loads((second / "qa_reader.json").read_text())
    assert [h["config"]["output_dir"] for h in saved["training_history"]] == [str(first)]
    # the same held-out article as the reader it continues: calibration never sees trained text
    assert saved["training"]["held_out_articles"] == saved["training_history"][0]["held_out_articles"]


def test_train_span_refuses_a_missing_wikiqa_folder_before_training(tmp_path: Path, tiny_base: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    out = tmp_path / "out"
    args = ["train", "span", "--train-file", str(_squad_file(tmp_path)), "--output-dir", str(out),
            "--base-model", str(tiny_base), "--device", "cpu"]
    assert main([*args, "--wikiqa", str(tmp_path / "nowhere")]) == 2
    assert "WikiQA file not found" in capsys.readouterr().err and not out.exists()
    assert main([*args, "--wikiqa", str(tmp_path), "--wikiqa-repeat", "0"]) == 2
    assert "--wikiqa-repeat must be at least 1" in capsys.readouterr().err and not out.exists()
    bad = _wikiqa_folder(tmp_path)
    import gzip

    (bad / "WikiQA-train.tsv.gz").write_bytes(gzip.compress(b"QuestionID\tQuestion\n\xff\xfe bad\n"))
    assert main([*args, "--wikiqa", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err and "Traceback" not in err and not out.exists()


def test_average_of_continued_readers_is_a_calibrated_reader(tiny_base: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from mrc.negatives import ADVERSARIAL_MIX
    from mrc.span import SpanReader
    from mrc.train_span import train_span_reader
    from qa.cli import main

    squad = _squad_file(tmp_path)
    kw = dict(epochs=2, batch_size=4, learning_rate=1e-3, device="cpu", log_every=5)
    start = tmp_path / "start"
    train_span_reader(TrainConfig(output_dir=str(start), base_model=str(tiny_base), seed=1, **kw), str(squad),
                      ADVERSARIAL_MIX, holdout_articles=1, max_seq_length=64, doc_stride=32)
    runs = []
    for seed in (2, 3):
        run = tmp_path / f"run{seed}"
        train_span_reader(TrainConfig(output_dir=str(run), base_model=str(start), seed=seed, **kw), str(squad),
                          ADVERSARIAL_MIX, holdout_articles=1, max_seq_length=64, doc_stride=32)
        runs.append(run)
    out = tmp_path / "soup"
    args = ["train", "average", "--model", str(runs[0]), "--model", str(runs[1]), "--train-file", str(squad)]
    assert main([*args, "--out", str(out)]) == 0
    from safetensors.torch import load_file

    def tensor(folder: Path, name: str = "qa_outputs.weight"):
        return {k: v for f in folder.glob("*.safetensors") for k, v in load_file(str(f)).items()}[name].float()

    assert torch.allclose(tensor(out), (tensor(runs[0]) + tensor(runs[1])) / 2, atol=2e-3)
    saved = json.loads((out / "qa_reader.json").read_text())
    assert saved["calibration"]["method"] == "mrc.recalibrate" and saved["score_temperature"] > 0
    assert saved["training"]["weights"] == [0.5, 0.5] and len(saved["averaged"]) == 2
    assert saved["calibration_history"] == []  # a first calibration: nothing before it to keep
    assert SpanReader(model_dir=out).read("What is the capital of Italy?", FACTS[1][2])
    # refused: one model, weights that do not sum to 1, a reader held out on other articles
    assert main([*args[:4], "--out", str(tmp_path / "x")]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "x"), "--weight", "0.7", "--weight", "0.7"]) == 2
    assert "summing to 1" in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(runs[1], other)
    sidecar = json.loads((other / "qa_reader.json").read_text())
    sidecar["training"]["held_out_articles"] = [99]
    (other / "qa_reader.json").write_text(json.dumps(sidecar))
    assert main(["train", "average", "--model", str(runs[0]), "--model", str(other), "--train-file", str(squad),
                 "--out", str(tmp_path / "x")]) == 2
    assert "same held-out articles" in capsys.readouterr().err
    (other / "qa_reader.json").unlink()
    assert main(["train", "average", "--model", str(runs[0]), "--model", str(other), "--train-file", str(squad),
                 "--out", str(tmp_path / "x")]) == 2
    assert "lists no held-out training articles" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("data", "said"), [
    ({"data": [{"title": "T"}]}, "article 0: missing 'paragraphs'"),
    ({"data": [{"paragraphs": [{"context": "Tom likes apples.", "qas": [
        {"id": "q", "question": "What?", "answers": [{"text": "apples", "answer_start": "ten"}]}]}]}]},
     "article 0, paragraph 0, question 0: not SQuAD's layout (answer_start must be a whole number"),
    ({"data": [{"paragraphs": ["not an object"]}]}, "article 0, paragraph 0: not SQuAD's layout"),
])
def test_a_training_file_in_another_layout_is_one_error_naming_where(tmp_path: Path, data, said) -> None:
    """An article without paragraphs was a KeyError traceback, a text answer_start a ValueError."""
    import json

    from mrc.train_span import load_squad_examples
    from qa.core.errors import DataFormatError

    path = tmp_path / "train.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFormatError, match=re.escape(said)):
        load_squad_examples(path)


def test_recalibrating_a_reader_with_a_broken_settings_file_is_one_error(tmp_path: Path) -> None:
    from mrc.recalibrate import held_out_examples
    from qa.core.errors import DataFormatError

    (tmp_path / "qa_reader.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(DataFormatError, match="cannot be read .*not a trained span reader's settings"):
        held_out_examples(tmp_path, tmp_path / "train.json")


def test_a_torn_importance_file_is_computed_again_not_a_traceback(tmp_path: Path) -> None:
    import numpy as np

    from mrc.pruning import Importance, _save_importance, _saved_importance

    path = tmp_path / "imp.npz"
    imp = Importance(heads=np.ones((2, 4)), neurons=[np.ones(8), np.ones(8)], windows=16)
    _save_importance(path, imp)
    assert _saved_importance(path).windows == 16 and path.exists()
    path.write_bytes(path.read_bytes()[:40])  # what a killed run left before the file was written atomically
    assert _saved_importance(path) is None


def test_a_question_longer_than_the_window_leaves_it_is_cut_as_the_reader_cuts_it() -> None:
    """A stride the reader takes (256 tokens, stride 200) left a 61-token question no room: the
    tokenizer panicked before the training started."""
    from mrc.span import question_room
    from mrc.train_span import SpanExample, tokenize_for_training

    tok = AutoTokenizer.from_pretrained(encoder_path())
    question = "In which year " + "and under which very long circumstances " * 12 + "was it built?"
    context = "The tower was built in 1889. " * 40
    ex = SpanExample("q", question, context, context.index("1889"), "1889", 0)
    feats = tokenize_for_training(tok, [ex], 256, 200)
    room = question_room(256, 200)
    assert feats["input_ids"] and all(len(ids) <= 256 for ids in feats["input_ids"])
    first = list(feats["token_type_ids"][0])
    assert first.index(1) - 2 <= room  # [CLS] question [SEP]: the question kept to its room


def test_a_manifest_with_a_count_of_text_is_a_data_error(tmp_path: Path) -> None:
    """`qa index --list` and `--delete` printed a traceback for it (the second after deleting)."""
    import json

    from qa.core.errors import DataFormatError
    from retrieval.index_dir import Manifest

    (tmp_path / "manifest.json").write_text(json.dumps({"encoder": "e", "dims": 3, "count": "12",
                                                        "dense_kind": "flat"}), encoding="utf-8")
    with pytest.raises(DataFormatError, match="'count' must be int, not str"):
        Manifest.load(tmp_path)


def test_a_reader_a_killed_install_moved_aside_is_named_and_put_back(tmp_path: Path) -> None:
    """Killed between the two renames of the install, the reader folder was gone ("model folder
    not found") while the previous model lay whole under a hidden name nothing mentioned."""
    import json

    from mrc.training import check_output_dir, recover_output_dir
    from qa.core.errors import ModelNotFoundError
    from qa.core.paths import check_model_dir

    out = tmp_path / "reader"
    moved = tmp_path / ".reader.old-999999999-a1b2c3d4"  # a process that is gone
    moved.mkdir()
    (moved / "qa_reader.json").write_text(json.dumps({"task": "span"}))
    with pytest.raises(ModelNotFoundError, match=r"previous model is whole in .*\.reader\.old-999999999"):
        check_model_dir(out)
    recover_output_dir(out)  # what `qa train` and `qa compress` do first
    assert out.is_dir() and not moved.exists()
    check_output_dir(out, "span", replace=True)


def test_saved_weights_take_the_umasks_mode(tiny_span_dir, tmp_path) -> None:
    """safetensors wrote them 0600: a reader trained by one account could not be loaded by a server
    running as another (the other files were 0644)."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from mrc.training import save_model_fp16
    from qa.core import atomic

    save_model_fp16(AutoModelForQuestionAnswering.from_pretrained(tiny_span_dir),
                    AutoTokenizer.from_pretrained(tiny_span_dir), tmp_path / "out")
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir()}
    assert any(n.endswith(".safetensors") for n in modes)
    assert set(modes.values()) == {0o666 & ~atomic._UMASK}, modes


def test_a_short_run_fits_its_schedule_into_the_budget(tmp_path, monkeypatch) -> None:
    """On a CPU a small file is a hundred steps: the schedule was refitted only from step 70 on, every
    100 steps and within the first half, so never, and the run was cut with its learning rate at 70 %."""
    import torch

    import mrc.training
    from mrc.training import train_loop

    clock = [1000.0]  # a step takes 20 ms of a clock the test keeps: no timing of a loaded machine
    monkeypatch.setattr(mrc.training.time, "time", lambda: clock[0])
    model = torch.nn.Linear(4, 1)

    class Loss(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, x: torch.Tensor) -> object:
            clock[0] += 0.02
            return type("Out", (), {"loss": self.inner(x).pow(2).mean()})()

    cfg = TrainConfig(output_dir=str(tmp_path), batch_size=1, epochs=1, max_minutes=1.5 / 60, checkpoint_every=0)
    state = train_loop(Loss(), cfg, [4] * 160, lambda rows: {"x": torch.ones(len(rows), 4)}, torch.device("cpu"),
                       clock[0], tmp_path / "log.jsonl")
    # 75 steps fit: refitted (it had stayed 160), and the schedule ran to its end within the budget
    assert 60 <= state.total_steps <= 75 and state.step == state.total_steps
