"""Sentence vectors for linking and relation ranking, cached per text.

The encoder itself is passed in (any `qa.core.types.Encoder`; the application gives the project's
retrieval encoder), so kb/ never imports another source. Relation labels and entity labels repeat
across questions, so each distinct text is encoded once per process.

A text's vector must not depend on what else was encoded with it: an int8 encoder quantises each
batch with one scale, so "capital" beside a long text comes out another vector (cosine 0.986)
than alone, and a question would be answered differently after other questions had filled the
cache. Every text is therefore encoded alone (under a millisecond each, about three times a
batch's cost); only `bulk`, for a whole table of labels kept apart from this cache (dense linking's
label vectors), encodes in batches.

The cache keeps the most recently used texts only (`MAX_TEXTS`): questions are texts too, and a
server that answers for weeks would otherwise keep every question's vector. A text is encoded
outside the cache's lock, so one question's new labels never hold up another's lookups (two
threads may encode the same new text once each; the vectors are equal).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.core.lru import BoundedCache
from qa.core.types import Encoder

# about 75 MB of 384-dimensional vectors: every relation and class label of a large graph, and
# the questions and phrases of a long stretch of traffic
MAX_TEXTS = 50_000


class CachedEncoder:
    """`vectors(texts)` -> (n, dim) L2-normalised; each distinct text is encoded once."""

    def __init__(self, encoder: Encoder, max_texts: int = MAX_TEXTS) -> None:
        self.encoder = encoder
        self.name = getattr(encoder, "name", "encoder")
        self._cache: BoundedCache[str, np.ndarray] = BoundedCache(max_texts)
        self._dim: int | None = None

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        found: dict[str, np.ndarray] = {}
        for t in texts:
            if (hit := self._cache.get(t)) is not None:
                found[t] = hit
        for t in sorted(set(texts) - found.keys()):
            vec = np.asarray(self.encoder.encode([t]), dtype=np.float32)[0]
            self._dim = int(vec.shape[0])
            self._cache.put(t, vec)
            found[t] = vec
        if not texts:
            return np.zeros((0, self._dim or 384), np.float32)
        return np.stack([found[t] for t in texts])

    def bulk(self, texts: Sequence[str]) -> np.ndarray:
        """Many texts in batches, not cached: a table compared as a whole (every label of a graph)."""
        return np.asarray(self.encoder.encode(list(texts)), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors(texts)

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.vectors([a, b])
        return float(va @ vb)


def cached(encoder: Encoder | None) -> CachedEncoder | None:
    """Wrap once: a `CachedEncoder` passed in is shared as it is, so its cache is shared too."""
    if encoder is None or isinstance(encoder, CachedEncoder):
        return encoder
    return CachedEncoder(encoder)
