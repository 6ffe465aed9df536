"""Answer judge: how well a text answers a question, read together by one cross-encoder.

Community QA ranks a thread's answers with small models over signals of each answer on its own
(its wording, its place in the conversation, its similarity to the question); the span reader adds
how far its best span beats "no answer". Neither was trained on the question the ranking asks:
is this reply a good answer to this forum question? The judge is: the span reader's encoder
(which already reads question and passage together) fine-tuned on SemEval-2016 Task 3 comments
labelled Good / not Good, with mean pooling (how the encoder was trained) and one linear layer.

The folder is the Hugging Face layout of the encoder (`AutoModel`) plus `judge.json`, which holds
the linear layer, the input length and the training recipe; `build_pair_inputs` is the one place
a (question, answer) pair becomes PyTorch input, for training and inference alike. On a CPU the
judge runs as an int8 ONNX copy (built once into the cache, like the span reader's and the
encoder's; `span_backend` chooses for both readers), from the same tokenizer cut the same way.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mrc.loading import checked_dir, load_model, load_tokenizer, resolve_device
from qa.core.atomic import atomic_write_text
from qa.core.errors import ModelNotFoundError
from qa.core.onnx_models import (
    OnnxRecipe,
    ensure_copy,
    open_session,
    pad_feed,
    rebuild_copy,
    resolve_backend,
    sample_feed,
    special_id,
    tokenizer_config,
    torch_export,
)
from qa.core.onnx_models import load_tokenizer as load_fast_tokenizer
from qa.core.settings import Settings, SpanBackend
from qa.core.text import json_file

JUDGE_CONFIG = "judge.json"
MAX_LENGTH = 192  # a forum question's opening and a typical comment fit; longer pairs lose their ends
QUESTION_CHARS = 400  # the thread's question as the judge reads it: the title and the body's opening
BATCH = 32
OUTPUT = "logit"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MISSING_HINT = "Train it with `qa cqa train-judge`, or set QA_CQA_JUDGE_MODEL='' to rank answers without it."


@dataclass
class JudgeHead:
    """The linear layer over the mean-pooled encoder output, and what the judge was trained with."""

    weight: list[float]
    bias: float
    max_length: int = MAX_LENGTH
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, model_dir: Path) -> JudgeHead:
        path = model_dir / JUDGE_CONFIG
        try:
            data = json_file(path)
            head = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelNotFoundError(f"{path} is not an answer judge's head: {exc}") from None
        if not head.weight or not 8 <= head.max_length <= 4096:
            raise ModelNotFoundError(f"{path}: empty weights or a max_length outside 8..4096")
        return head

    def save(self, model_dir: Path) -> None:
        atomic_write_text(model_dir / JUDGE_CONFIG, json.dumps(self.__dict__, indent=1) + "\n")


def question_text(question: str) -> str:
    return question.strip()[:QUESTION_CHARS] or "?"


def build_pair_inputs(tokenizer: Any, pairs: Sequence[tuple[str, str]], max_length: int) -> dict[str, Any]:
    """Padded PyTorch tensors for (question, answer) pairs; when too long, the longer text is cut
    first, so neither the question nor a short answer is lost to the other."""
    return tokenizer([question_text(q) for q, _ in pairs], [a.strip() or "." for _, a in pairs],
                     truncation="longest_first", max_length=max_length, padding=True, return_tensors="pt")


def pooled_logits(encoder: Any, head: Any, batch: dict[str, Any]) -> Any:
    """The judge's logit per pair: mean of the encoder's last hidden states over real tokens, then
    the linear head (a `torch.nn.Linear` with one output)."""
    hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)).squeeze(-1)


def _export(model_dir: Path, out: Path) -> None:
    """The judge whole (encoder, pooling, head): (ids, mask, segments) -> one logit per row."""
    import torch
    from transformers import AutoModel

    head = JudgeHead.load(model_dir)
    # eager attention: its additive mask is the pattern ONNX Runtime fuses into one Attention kernel
    encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32,
                                        attn_implementation="eager")
    linear = _linear(head)

    class Judged(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.linear = encoder, linear

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            batch = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            return pooled_logits(self.encoder, self.linear, batch).unsqueeze(-1)

    torch_export(Judged(), INPUTS, [OUTPUT], out, check_feed=sample_feed(INPUTS, _vocab(model_dir)))


def _vocab(model_dir: Path) -> int:
    return int(json_file(model_dir / "config.json").get("vocab_size", 30522))


def _recipe(model_dir: Path) -> OnnxRecipe:
    vocab = _vocab(model_dir)
    return OnnxRecipe(kind="judge", export=_export, sample=lambda names: sample_feed(names, vocab))


def build_onnx(model_dir: Path) -> dict[str, Any]:
    """(Re)build the judge's ONNX copies now (`qa export onnx`); returns what was built."""
    return rebuild_copy(model_dir, _recipe(Path(model_dir)))


def _linear(head: JudgeHead) -> Any:
    import torch

    linear = torch.nn.Linear(len(head.weight), 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([head.weight], dtype=torch.float32))
        linear.bias.fill_(head.bias)
    return linear


class AnswerJudge:
    """Scores (question, answer) pairs: a logit, higher when the answer answers the question.
    Loads lazily on first use (or in `warm_up`) and is shared by every call of this instance."""

    def __init__(self, settings: Settings | None = None, model_dir: str | Path | None = None, *,
                 backend: str | None = None, what: str = "answer judge", hint: str = MISSING_HINT) -> None:
        settings = settings or Settings()
        # `what` and `hint` name the judge a missing folder was meant to be (the question judge's
        # unreadable folder was said to be the answer judge, with the other setting's fix)
        self.model_dir = checked_dir(model_dir or settings.cqa_judge_model, what, hint)
        self.settings = settings
        self.backend = resolve_backend(backend or settings.span_backend, settings.device)
        self._loaded: tuple[Any, Any, JudgeHead] | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model_dir.name

    def _load(self) -> tuple[Any, Any, JudgeHead]:
        """(tokenizer, model, head): the fast tokenizer and (ONNX session, pad id), or transformers'
        tokenizer and (PyTorch encoder, linear head)."""
        with self._lock:
            if self._loaded is None:
                head = JudgeHead.load(self.model_dir)
                if self.backend == SpanBackend.TORCH:
                    device = resolve_device(self.settings.device)
                    from transformers import AutoModel

                    encoder = load_model(self.model_dir, AutoModel, device).eval()
                    self._loaded = (load_tokenizer(self.model_dir), (encoder, _linear(head).to(device)), head)
                else:
                    file = ensure_copy(self.model_dir, _recipe(self.model_dir), int8=self.backend == SpanBackend.ONNX)
                    tok = load_fast_tokenizer(self.model_dir)
                    tok.enable_truncation(head.max_length, strategy="longest_first")
                    pad = special_id(tok, tokenizer_config(self.model_dir), "pad_token", "[PAD]") or 0
                    self._loaded = (tok, (open_session(file), pad), head)
            return self._loaded

    def warm_up(self) -> None:
        self._load()

    def score(self, pairs: Sequence[tuple[str, str]], progress: Callable[[int], None] | None = None) -> list[float]:
        """One logit per (question, answer) pair, in order."""
        if not pairs:
            return []
        tokenizer, model, head = self._load()
        run = self._torch_run if self.backend == SpanBackend.TORCH else self._onnx_run
        out: list[float] = []
        for i in range(0, len(pairs), BATCH):
            chunk = pairs[i : i + BATCH]
            out.extend(run(tokenizer, model, head, chunk))
            if progress is not None:
                progress(len(chunk))
        return out

    @staticmethod
    def _torch_run(tokenizer: Any, model: Any, head: JudgeHead, pairs: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        encoder, linear = model
        device = next(encoder.parameters()).device
        with torch.inference_mode():
            batch = {k: v.to(device) for k, v in build_pair_inputs(tokenizer, pairs, head.max_length).items()}
            return pooled_logits(encoder, linear, batch).float().cpu().numpy().astype(np.float64).tolist()

    @staticmethod
    def _onnx_run(tokenizer: Any, model: Any, head: JudgeHead, pairs: Sequence[tuple[str, str]]) -> list[float]:
        session, pad = model
        encs = tokenizer.encode_batch([(question_text(q), a.strip() or ".") for q, a in pairs])
        feed = pad_feed(encs, pad, {i.name for i in session.get_inputs()})
        return np.asarray(session.run([OUTPUT], feed)[0], dtype=np.float64).reshape(-1).tolist()
