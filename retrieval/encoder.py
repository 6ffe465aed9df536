"""Sentence embeddings from the packaged all-MiniLM-L6-v2 with plain transformers.

We reproduce sentence-transformers' recipe (mean pooling over the attention mask, then L2
normalisation) instead of depending on that library at run time: it keeps the install small,
lets us control batching and padding, and the parity test pins the two to cosine > 0.999.
Texts are sorted by length before batching so each batch pads only to its own longest text
("dynamic padding"), which is the main CPU speed-up for collections of mixed lengths.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.paths import check_model_dir, encoder_path
from qa.core.settings import Settings

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with max_seq_length 256 (sentence_bert_config.json)

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}


def _load(path: Path, device: str) -> tuple[Any, Any]:
    """Load tokenizer and model once per process: loading costs seconds, encoding milliseconds."""
    key = (str(path), device)
    with _LOCK:
        if key not in _CACHE:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the weight-loading bar is noise in a CLI
            tokenizer = AutoTokenizer.from_pretrained(str(path))
            model = AutoModel.from_pretrained(str(path))
            model.eval()
            model.to(device)
            _CACHE[key] = (tokenizer, model)
        return _CACHE[key]


class TextEncoder:
    """Encodes texts into L2-normalised float32 vectors; inner product = cosine similarity."""

    def __init__(self, settings: Settings | None = None, batch_size: int | None = None) -> None:
        self.settings = settings or Settings()
        model = self.settings.encoder_model
        self.path = check_model_dir(model) if model else encoder_path()
        self.name = model or ENCODER_NAME
        self.device = self.settings.device
        self.batch_size = batch_size or max(self.settings.batch_size, 1)

    @property
    def dim(self) -> int:
        _, model = _load(self.path, self.device)
        return int(model.config.hidden_size)

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, description: str = "encoding"
    ) -> np.ndarray:
        """Return an (n, dim) float32 array in the order of `texts`.

        `progress` shows a rich progress bar; use it for collection builds, not per query.
        """
        import torch

        tokenizer, model = _load(self.path, self.device)
        dim = int(model.config.hidden_size)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if not texts:
            return out
        # Sort by a cheap length proxy so batches hold texts of similar length.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        bar = _progress(progress)
        task = bar.add_task(description, total=len(texts)) if bar else None
        try:
            if bar:
                bar.start()
            with torch.inference_mode():
                for idx in batches:
                    enc = tokenizer(
                        [texts[i] for i in idx],
                        padding=True,
                        truncation=True,
                        max_length=MAX_TOKENS,
                        return_tensors="pt",
                    ).to(self.device)
                    hidden = model(**enc).last_hidden_state
                    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                    out[idx] = pooled.float().cpu().numpy()
                    if bar and task is not None:
                        bar.advance(task, len(idx))
        finally:
            if bar:
                bar.stop()
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One query as a (dim,) vector."""
        return self.encode([text])[0]


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )
