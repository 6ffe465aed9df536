"""The ONNX backend of the span reader: export, float32 parity with PyTorch, int8, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mrc.onnx_export import export_span_onnx, onnx_file
from mrc.span import SpanReader
from qa.core.errors import InputError

CONTEXT = ("The theory of relativity comprises two theories by Albert Einstein, published in 1905 and 1915. "
           "Special relativity applies to all physical phenomena in the absence of gravity.")
QUESTIONS = ["Who proposed relativity?", "When was it published?", "What does special relativity apply to?"]


@pytest.fixture(scope="module")
def exported(tiny_span_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx") / "span"
    shutil.copytree(tiny_span_dir, folder)
    info = export_span_onnx(folder)
    assert set(info["files_mb"]) == {"model.onnx", "model.int8.onnx"}
    return folder


def _read(folder: Path, backend: str):
    reader = SpanReader(model_dir=folder, backend=backend)
    return reader.read_many([(q, CONTEXT) for q in QUESTIONS], top_k=3, allow_no_answer=False)


def test_float32_onnx_gives_the_pytorch_answers(exported: Path) -> None:
    ref, got = _read(exported, "torch"), _read(exported, "onnx-fp32")
    for a, b in zip(ref, got, strict=True):
        assert [x.text for x in a] == [x.text for x in b]
        assert all(abs(x.raw_score - y.raw_score) < 1e-3 for x, y in zip(a, b, strict=True))


def test_int8_onnx_reads_valid_spans(exported: Path) -> None:
    for answers in _read(exported, "onnx"):
        best = answers[0]
        assert CONTEXT[best.start : best.end] == best.text and 0.0 <= best.score <= 1.0


def test_export_replaces_the_folder_atomically(exported: Path) -> None:
    before = onnx_file(exported).stat().st_mtime_ns
    export_span_onnx(exported, quantize=False)
    assert onnx_file(exported, int8=False).exists() and not onnx_file(exported).exists()
    assert not list(exported.glob(".onnx-*"))
    export_span_onnx(exported)
    assert onnx_file(exported).stat().st_mtime_ns != before


def test_missing_onnx_files_and_unknown_backends_are_clear_errors(tiny_span_dir: Path) -> None:
    with pytest.raises(InputError, match="qa export onnx"):
        SpanReader(model_dir=tiny_span_dir, backend="onnx").read("Who?", CONTEXT)
    with pytest.raises(InputError, match="backend"):
        SpanReader(model_dir=tiny_span_dir, backend="tensorrt")


def test_a_copy_built_from_other_weights_is_refused(exported: Path, tmp_path: Path) -> None:
    retrained = tmp_path / "retrained"
    shutil.copytree(exported, retrained)
    weights = next(retrained.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes() + b" ")  # any change to the weights
    with pytest.raises(InputError, match="other weights"):
        SpanReader(model_dir=retrained, backend="onnx").read("Who?", CONTEXT)
