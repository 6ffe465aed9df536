"""`qa compress` mechanics on a tiny random reader: importance, the pruning plan, narrower layers
that save, reload and export to ONNX exactly, distillation that lowers its loss, and the command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mrc.pruning import (
    CONFIG_KEY,
    MIN_NEURONS,
    Importance,
    _batches,
    distill,
    importance,
    parameter_count,
    plan,
    prune,
)
from mrc.span import SpanReader
from qa.cli import main as qa_main
from qa.core.errors import InputError
from qa.core.settings import Settings
from tests.mrc.test_training import _squad_file

CONTEXT = "The capital of France is Paris. It lies on the Seine, and about two million people live there."


def _model(folder: Path):
    from transformers import AutoModelForQuestionAnswering

    from mrc.loading import load_model

    return load_model(folder, AutoModelForQuestionAnswering, torch.device("cpu"), attn_implementation="eager")


def _feats(n: int = 12) -> dict:
    rng = np.random.default_rng(0)
    ids = [np.concatenate([[101], rng.integers(1000, 2000, size=int(k)), [102]]) for k in rng.integers(10, 30, n)]
    return {"input_ids": ids, "token_type_ids": [np.zeros_like(x) for x in ids],
            "start": np.array([min(3, len(x) - 1) for x in ids]), "end": np.array([min(5, len(x) - 1) for x in ids])}


def test_plan_removes_the_least_important_and_keeps_every_layer_alive() -> None:
    imp = Importance(heads=np.array([[1.0, 0.1, 0.2, 0.3], [0.9, 0.8, 0.7, 0.05]]),
                     neurons=[np.arange(64, dtype=float), np.arange(64, dtype=float)[::-1]], windows=1)
    heads, neurons = plan(imp, 0.5)
    assert sum(len(h) for h in heads) == 4 and all(len(h) >= 1 for h in heads)
    assert 3 not in heads[1] and 0 in heads[0]  # layer-normalised ranking: the weakest go
    assert all(len(n) >= MIN_NEURONS for n in neurons) and 63 in neurons[0] and 0 in neurons[1]
    with pytest.raises(InputError):
        plan(imp, 1.0)


def test_pruned_reader_saves_reloads_and_exports_exactly(tiny_span_dir: Path, tmp_path: Path) -> None:
    model = _model(tiny_span_dir)
    imp = importance(model, _batches(_feats(), 4, shuffle=False))
    assert imp.heads.shape == (2, 2) and (imp.heads > 0).all() and imp.windows == 12
    before = parameter_count(model)
    heads, neurons = plan(imp, 0.5)
    shapes = prune(model, heads, neurons)
    assert parameter_count(model) < before and [s["heads"] for s in shapes] != [2, 2]
    folder = tmp_path / "pruned"
    model.save_pretrained(folder)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_span_dir / f, folder / f)
    assert json.loads((folder / "config.json").read_text())[CONFIG_KEY] == shapes
    reloaded = _model(folder)
    ids = torch.tensor([[101, 2054, 2003, 102, 3000, 3001, 3002, 102]])
    with torch.inference_mode():
        a, b = model(input_ids=ids), reloaded(input_ids=ids)
    assert torch.allclose(a.start_logits, b.start_logits, atol=1e-5)
    # the reader reads it on both runtimes, and the fused ONNX graph keeps the per-layer head counts
    ref = SpanReader(Settings(), model_dir=folder, backend="torch").read("Where?", CONTEXT, top_k=3)
    got = SpanReader(Settings(), model_dir=folder, backend="onnx-fp32").read("Where?", CONTEXT, top_k=3)
    assert [x.text for x in ref] == [x.text for x in got]
    assert all(abs(x.raw_score - y.raw_score) < 1e-3 for x, y in zip(ref, got, strict=True))


def test_distillation_moves_the_student_towards_the_teacher(tiny_span_dir: Path) -> None:
    teacher, student = _model(tiny_span_dir), _model(tiny_span_dir)
    imp = importance(student, _batches(_feats(), 4, shuffle=False))
    prune(student, *plan(imp, 0.5))
    batches = _batches(_feats(24), 8, shuffle=True)
    info = distill(student, teacher, batches, epochs=6, lr=3e-3, alpha=1.0, max_minutes=2)
    assert info["steps"] == 18 and info["loss_last"] < info["loss_first"]


def test_compress_command_writes_a_reader_folder(tiny_span_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from mrc.training import file_sha256

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    model = tmp_path / "reader"
    shutil.copytree(tiny_span_dir, model)
    train = _squad_file(tmp_path)
    (model / "qa_reader.json").write_text(json.dumps({"null_threshold": 0.0, "training": {
        "held_out_articles": [1], "train_file_sha256": file_sha256(train)}}))
    out = tmp_path / "compressed"
    code = qa_main(["compress", "span", "--model-dir", str(model), "--out", str(out), "--train-file", str(train),
                    "--prune", "0.5", "--distill-windows", "4", "--importance-windows", "16", "--max-length", "64",
                    "--no-calibrate"])
    assert code == 0
    saved = json.loads((out / "qa_reader.json").read_text())
    assert saved["compression"]["parameters"] < saved["compression"]["parameters_before"]
    assert saved["compression"]["distillation"]["steps"] >= 1
    assert "int8 MB" in capsys.readouterr().out
    (best,) = SpanReader(model_dir=out).read("What is the capital of France?", CONTEXT, allow_no_answer=False)
    assert CONTEXT[best.start : best.end] == best.text


def test_compress_command_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert qa_main(["compress", "span", "--train-file", str(tmp_path / "none.json")]) == 2
    assert "training file not found" in capsys.readouterr().err
    train = tmp_path / "train.json"
    train.write_text("{}", encoding="utf-8")
    bad = tmp_path / "dev.json"
    bad.write_text("{not json", encoding="utf-8")
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.txt").write_text("keep me", encoding="utf-8")
    for extra, needle in ((["--eval", str(bad)], "invalid JSON"), (["--out", str(other)], "other files in it")):
        assert qa_main(["compress", "span", "--train-file", str(train), *extra]) == 2  # before compressing
        assert needle in " ".join(capsys.readouterr().err.split())
    assert (other / "thesis.txt").read_text(encoding="utf-8") == "keep me"


def test_compress_never_overwrites_the_reader_it_compresses(tiny_span_dir: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """--out naming the reader itself (or a folder holding it) is refused, and so is a reader
    already there unless --replace: found before any compressing."""
    train = tmp_path / "train.json"
    train.write_text("{}", encoding="utf-8")
    model = tmp_path / "readers" / "reader"
    shutil.copytree(tiny_span_dir, model)
    other = tmp_path / "readers" / "earlier"
    shutil.copytree(tiny_span_dir, other)
    before = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    for out, needle in ((model, "would replace the reader being compressed"),
                        (model.parent, "would replace the reader being compressed"),
                        (other, "already holds a reader: give --replace")):
        assert qa_main(["compress", "span", "--model-dir", str(model), "--out", str(out),
                        "--train-file", str(train)]) == 2
        assert needle in " ".join(capsys.readouterr().err.split())
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()} == before
