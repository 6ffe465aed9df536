"""Tiny randomly initialised readers built inside the tests: they exercise the reader mechanics
(windows, offsets, batching, thresholds) in seconds; answer quality is the trained models' job."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


@pytest.fixture(scope="session")
def packaged_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from qa.core.paths import encoder_path

    return AutoTokenizer.from_pretrained(str(encoder_path()), local_files_only=True)


def _save(model: Any, tok: Any, path: Path, half: bool = False) -> Path:
    if half:
        model = model.half()
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_span_dir(tmp_path_factory: pytest.TempPathFactory, packaged_tokenizer: Any) -> Path:
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=packaged_tokenizer.vocab_size, **TINY)
    # Saved in fp16 like the shipped readers, so loading must cast back to float32 on CPU.
    return _save(
        BertForQuestionAnswering(cfg), packaged_tokenizer, tmp_path_factory.mktemp("span"), half=True
    )


@pytest.fixture(scope="session")
def tiny_choice_dir(tmp_path_factory: pytest.TempPathFactory, packaged_tokenizer: Any) -> Path:
    from transformers import BertConfig, BertForMultipleChoice

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=packaged_tokenizer.vocab_size, **TINY)
    return _save(BertForMultipleChoice(cfg), packaged_tokenizer, tmp_path_factory.mktemp("choice"))


class TargetQA(torch.nn.Module):
    """A stand-in QA head with hand-set logits: start logit `hi` on token `start_id`, end logit
    `hi` on token `end_id`, [CLS] gets `null_each` for both, everything else 0."""

    def __init__(self, start_id: int, end_id: int, cls_id: int, hi: float = 10.0, null_each: float = -5.0):
        super().__init__()
        self.start_id, self.end_id, self.cls_id = start_id, end_id, cls_id
        self.hi, self.null_each = hi, null_each

    def forward(self, input_ids: torch.Tensor, **_: Any) -> SimpleNamespace:
        start = torch.where(input_ids == self.start_id, self.hi, 0.0)
        end = torch.where(input_ids == self.end_id, self.hi, 0.0)
        start = torch.where(input_ids == self.cls_id, self.null_each, start)
        end = torch.where(input_ids == self.cls_id, self.null_each, end)
        return SimpleNamespace(start_logits=start, end_logits=end)


@pytest.fixture
def target_reader(tiny_span_dir: Path, packaged_tokenizer: Any):
    """Factory: a SpanReader whose model points at the first/last sub-token of `target`."""
    from mrc.span import SpanReader
    from qa.core.settings import Settings

    def make(
        target: str,
        *,
        hi: float = 10.0,
        null_each: float = -5.0,
        end_target: str | None = None,
        **settings: Any,
    ) -> SpanReader:
        ids = packaged_tokenizer(target, add_special_tokens=False)["input_ids"]
        end_ids = packaged_tokenizer(end_target, add_special_tokens=False)["input_ids"] if end_target else ids
        reader = SpanReader(Settings(**settings), model_dir=tiny_span_dir, backend="torch")
        reader._model = TargetQA(ids[0], end_ids[-1], packaged_tokenizer.cls_token_id, hi, null_each)
        reader._device = torch.device("cpu")
        return reader

    return make
