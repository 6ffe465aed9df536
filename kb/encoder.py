"""Sentence vectors for linking and relation ranking, cached per text.

Uses the project encoder (`retrieval.encoder.TextEncoder`, mean-pooled all-MiniLM-L6-v2) when it
is installed and falls back to the same recipe here, so kb/ works on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from qa.settings import Settings


class _MeanPoolEncoder:
    def __init__(self, settings: Settings) -> None:
        from transformers import AutoModel, AutoTokenizer

        from qa.paths import check_model_dir, encoder_path

        path = check_model_dir(settings.encoder_model) if settings.encoder_model else encoder_path()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), 64):
                enc = self.tokenizer(list(texts[i : i + 64]), padding=True, truncation=True,
                                     max_length=128, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)


class CachedEncoder:
    """`vectors(texts)` -> (n, dim) L2-normalised; each distinct text is encoded once per process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._impl = None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _encoder(self):
        if self._impl is None:
            try:
                from retrieval.encoder import TextEncoder

                self._impl = TextEncoder(self.settings, batch_size=64)
            except ImportError:
                self._impl = _MeanPoolEncoder(self.settings)
        return self._impl

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = sorted({t for t in texts if t not in self._cache})
            if missing:
                vecs = self._encoder().encode(missing)
                for t, v in zip(missing, vecs, strict=True):
                    self._cache[t] = np.asarray(v, dtype=np.float32)
            if not texts:
                return np.zeros((0, 384), np.float32)
            return np.stack([self._cache[t] for t in texts])

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.vectors([a, b])
        return float(va @ vb)


_SHARED: dict[str, CachedEncoder] = {}


def shared_encoder(settings: Settings | None = None) -> CachedEncoder:
    settings = settings or Settings()
    key = settings.encoder_model or "default"
    if key not in _SHARED:
        _SHARED[key] = CachedEncoder(settings)
    return _SHARED[key]
