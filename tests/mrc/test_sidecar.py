"""Both readers read a model's `qa_reader.json` the same way: its windowing wins over our
defaults, an explicit setting wins over it, and a bad value is a one-line user error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mrc.choice import ChoiceReader
from mrc.loading import reader_config
from mrc.span import SpanReader
from qa.core.errors import ModelNotFoundError
from qa.core.settings import Settings


def _with_sidecar(src: Path, dst: Path, sidecar: dict) -> Path:
    shutil.copytree(src, dst)
    (dst / "qa_reader.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return dst


def test_sidecar_windowing_and_precedence(tiny_span_dir: Path, tiny_choice_dir: Path, tmp_path: Path) -> None:
    side = {"max_seq_length": 128, "doc_stride": 32, "max_answer_length": 12, "training": {"any": "thing"}}
    span_dir = _with_sidecar(tiny_span_dir, tmp_path / "span", {**side, "null_threshold": -2.5,
                                                                    "score_temperature": 3.0})
    choice_dir = _with_sidecar(tiny_choice_dir, tmp_path / "choice", side)
    span = SpanReader(Settings(), model_dir=span_dir)
    choice = ChoiceReader(Settings(), model_dir=choice_dir)
    for reader in (span, choice):
        assert reader.settings.max_seq_length == 128
    assert choice.max_length == 128
    assert (span.settings.doc_stride, span.settings.max_answer_length) == (32, 12)
    assert (span.null_threshold, span.temperature) == (-2.5, 3.0)
    explicit = Settings(max_seq_length=256)
    assert SpanReader(explicit, model_dir=span_dir).settings.max_seq_length == 256
    assert ChoiceReader(explicit, model_dir=choice_dir).max_length == 256
    assert SpanReader(Settings(null_threshold=1.0), model_dir=span_dir).null_threshold == 1.0


@pytest.mark.parametrize("sidecar,needle", [
    ({"max_seq_length": 8}, "max_seq_length"),
    ({"score_temperature": 0}, "score_temperature"),
    ({"task": "translation"}, "task"),
])
def test_bad_sidecar_values_are_user_errors(tiny_span_dir: Path, tmp_path: Path, sidecar: dict, needle: str) -> None:
    d = _with_sidecar(tiny_span_dir, tmp_path / "bad", sidecar)
    with pytest.raises(ModelNotFoundError, match=needle):
        reader_config(d)
    with pytest.raises(ModelNotFoundError):
        SpanReader(Settings(), model_dir=d)
