"""Sentence embeddings from the packaged all-MiniLM-L6-v2: mean pooling over the attention mask,
then L2 normalisation (sentence-transformers' recipe, without that library at run time).

Two runtimes (`encoder_backend`): `auto` (the default) is an int8 ONNX copy on a CPU, built into
the cache on first use (`qa.core.onnx_models`) and run with `tokenizers` + ONNX Runtime alone,
so encoding a query imports neither torch nor transformers; `torch` is plain transformers
(`onnx-fp32` the float ONNX copy). The int8 vectors stay within cosine 0.99 of the float ones
(`benchmarks/encode_speed.py` measures it over the default passages), so an index built with
either backend answers queries encoded with the other; the encoder's name is the same.
Texts are sorted by length before batching so each batch pads only to its own longest text
("dynamic padding"), which is the main CPU speed-up for collections of mixed lengths. The ONNX
path tokenizes everything first and sorts by the number of word pieces: sorting by characters
(what sentence-transformers does) still left a quarter of every batch padding on the default
passages (1.26 padded positions per real one, against 1.02 sorted by word pieces).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.onnx_models import (
    OnnxRecipe,
    ensure_copy,
    load_tokenizer,
    open_session,
    pad_feed,
    rebuild_copy,
    resolve_backend,
    sample_feed,
    special_id,
    tokenizer_config,
    torch_export,
)
from qa.core.paths import check_model_dir, encoder_path
from qa.core.quiet import quiet_transformers
from qa.core.settings import Settings, SpanBackend
from qa.core.text import folded, json_file

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with max_seq_length 256 (sentence_bert_config.json)

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}
_ONNX: dict[tuple[str, bool], tuple[Any, Any, int]] = {}
OUTPUT = "sentence_embedding"
WINDOW = 4096  # texts tokenized at once to find their lengths


def _load(path: Path, device: str) -> tuple[Any, Any]:
    """Load tokenizer and model once per process: loading costs seconds, encoding milliseconds."""
    key = (str(path), device)
    with _LOCK:
        if key not in _CACHE:
            from transformers import AutoModel, AutoTokenizer

            with quiet_transformers():  # the weight-loading bar is noise in a CLI
                tokenizer = AutoTokenizer.from_pretrained(str(path))
                model = AutoModel.from_pretrained(str(path))
            model.eval()
            model.to(device)
            _CACHE[key] = (tokenizer, model)
        return _CACHE[key]


def _onnx(path: Path, int8: bool) -> tuple[Any, Any, int]:
    """Tokenizer (cut at MAX_TOKENS, no padding: `_onnx_batch` pads each batch), session and the pad
    id, once per process."""
    key = (str(path), int8)
    with _LOCK:
        if key not in _ONNX:
            file = ensure_copy(path, _recipe(path), int8=int8)
            tok = load_tokenizer(path)
            pad = special_id(tok, tokenizer_config(path), "pad_token", "[PAD]") or 0
            tok.enable_truncation(MAX_TOKENS)
            _ONNX[key] = (tok, open_session(file), pad)
        return _ONNX[key]


def _export(model_dir: Path, out: Path) -> None:
    """The encoder with its pooling: (input ids, mask, segments) -> unit sentence vectors."""
    import torch
    from transformers import AutoModel

    # eager attention: its additive mask is the pattern ONNX Runtime fuses into one Attention kernel
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32,
                                      attn_implementation="eager")

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch_export(Pooled(model), names, [OUTPUT], out, check_feed=sample_feed(names, _vocab(model_dir), types=False))


def _vocab(model_dir: Path) -> int:
    return int(_config(model_dir).get("vocab_size", 30522))


def _config(model_dir: Path) -> dict[str, Any]:

    return json_file(Path(model_dir) / "config.json")


# Kept float in the int8 copy: the FFN output products of the first three layers, the groups whose
# int8 rounding moved all-MiniLM-L6-v2's vectors most (one group at a time, on SQuAD training
# paragraphs); with them float the vectors stay above cosine 0.99 of the float ones.
KEEP_FLOAT = ("layer.0/output/dense", "layer.1/output/dense", "layer.2/output/dense")


def _recipe(model_dir: Path) -> OnnxRecipe:
    vocab = _vocab(model_dir)
    return OnnxRecipe(kind="encoder", export=_export, sample=lambda names: sample_feed(names, vocab, types=False),
                      keep_float=KEEP_FLOAT)


def build_onnx(model_dir: Path) -> dict[str, Any]:
    """(Re)build the encoder's ONNX copies now (`qa export onnx`); returns what was built."""
    with _LOCK:
        _ONNX.clear()
    return rebuild_copy(model_dir, _recipe(Path(model_dir)))


class TextEncoder:
    """Encodes texts into L2-normalised float32 vectors; inner product = cosine similarity."""

    def __init__(self, settings: Settings | None = None, batch_size: int | None = None,
                 backend: str | None = None) -> None:
        self.settings = settings or Settings()
        model = self.settings.encoder_model
        self.path = check_model_dir(model) if model else encoder_path()
        self.name = model or ENCODER_NAME
        self.device = self.settings.device
        self.backend = resolve_backend(backend or self.settings.encoder_backend, self.device)
        self.batch_size = batch_size or max(self.settings.batch_size, 1)

    @property
    def dim(self) -> int:
        return int(_config(self.path)["hidden_size"])

    def warm_up(self) -> None:
        """Load (and on first use build) the model now rather than on the first query."""
        if self.backend == SpanBackend.TORCH:
            _load(self.path, self.device)
        else:
            _onnx(self.path, self.backend == SpanBackend.ONNX)

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, description: str = "encoding"
    ) -> np.ndarray:
        """Return an (n, dim) float32 array in the order of `texts`.

        `progress` shows a rich progress bar; use it for collection builds, not per query.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        bar = _progress(progress)
        task = bar.add_task(description, total=len(texts)) if bar else None
        try:
            if bar:
                bar.start()  # before the tokenizing: on a large collection that alone takes seconds
            run, order = self._torch_batch(texts) if self.backend == SpanBackend.TORCH else self._onnx_batch(texts)
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                out[idx] = run(idx)
                if bar and task is not None:
                    bar.advance(task, len(idx))
        finally:
            if bar:
                bar.stop()
        return out

    def _onnx_batch(self, texts: Sequence[str]) -> tuple[Any, list[int]]:
        """A batch runner over rows of `texts` and the rows longest first (by tokens). Only the
        lengths are kept from a first pass, a window of texts at a time, and each batch is
        tokenized again when it runs: a tokenized text holds its ids, offsets and tokens (about
        30 kB), so a whole collection's held gigabytes before its first vector. The batches are
        the ones one pass would cut, so the vectors are too (the int8 model scales each batch)."""
        tok, session, pad = _onnx(self.path, self.backend == SpanBackend.ONNX)
        names = {i.name for i in session.get_inputs()}
        lengths: list[int] = []
        for w in range(0, len(texts), WINDOW):
            lengths.extend(len(e.ids) for e in tok.encode_batch([folded(t) for t in texts[w : w + WINDOW]]))
        order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)

        def run(idx: list[int]) -> np.ndarray:
            return session.run([OUTPUT], pad_feed(tok.encode_batch([folded(texts[i]) for i in idx]), pad, names))[0]

        return run, order

    def _torch_batch(self, texts: Sequence[str]) -> tuple[Any, list[int]]:
        """A batch runner over rows of `texts` and the rows longest first (by characters: the
        tokenizer pads each batch itself)."""
        import torch

        tokenizer, model = _load(self.path, self.device)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)

        def run(idx: list[int]) -> np.ndarray:
            enc = tokenizer([folded(texts[i]) for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                            return_tensors="pt").to(self.device)
            with torch.inference_mode():
                hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return pooled.float().cpu().numpy()

        return run, order

    def encode_query(self, text: str) -> np.ndarray:
        """One query as a (dim,) vector."""
        return self.encode([text])[0]


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from qa.core.progress import LoggedProgress

    return LoggedProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # progress is not output: `qa index ... > log` keeps stdout clean
        transient=False,
    )
