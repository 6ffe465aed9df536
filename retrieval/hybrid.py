"""Hybrid retrieval: dense (MiniLM + FAISS) and sparse (BM25) candidates, fused into one ranking.

Dense retrieval matches meaning ("who wrote" ~ "author of"); BM25 matches rare exact terms
(names, numbers). Each retriever proposes `depth` candidates, fusion (see `retrieval.fusion`)
ranks their union, and the docstore supplies the text of the top k. The fusion method, weights
and RRF k come from `Settings` (tuned on SQuAD training questions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.core.errors import InputError
from qa.core.settings import Settings
from qa.core.types import Encoder
from retrieval.bm25 import BM25Index
from retrieval.dense import DenseIndex
from retrieval.docstore import DocStore, SQLiteDocStore
from retrieval.encoder import TextEncoder
from retrieval.fusion import fuse
from retrieval.index_dir import BM25_DIR, DENSE, DOCSTORE, Manifest
from retrieval.passage import RetrievedPassage

Candidates = dict[str, list[tuple[int, float]]]


def fusion_params(settings: Settings) -> tuple[str, dict[str, float], float]:
    """(method, weights, k) for fusion from settings."""
    method = str(getattr(settings, "fusion_method", "rrf"))
    weights = {"dense": float(settings.fusion_weight_dense), "bm25": float(settings.fusion_weight_bm25)}
    return method, weights, float(settings.fusion_k)


class HybridRetriever:
    """Search an index folder with dense, BM25 or both fused.

    `mode` is "hybrid" (default), "dense" or "bm25"; `depth` is how many candidates each
    retriever contributes to fusion (the setting `retrieve_k` unless given).
    """

    def __init__(
        self,
        docstore: DocStore,
        dense: DenseIndex,
        bm25: BM25Index,
        settings: Settings | None = None,
        *,
        encoder: Encoder | None = None,
        depth: int | None = None,
        manifest: Manifest | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.docstore = docstore
        self.dense = dense
        self.bm25 = bm25
        self._encoder = encoder
        self.depth = depth or self.settings.retrieve_k
        self.manifest = manifest
        self.method, self.weights, self.k = fusion_params(self.settings)

    @classmethod
    def from_index_dir(
        cls, path: str | Path, settings: Settings | None = None, *, depth: int | None = None,
        encoder: Encoder | None = None,
    ) -> HybridRetriever:
        """Open an index folder read-only (FAISS and BM25 memory-mapped)."""
        settings = settings or Settings.load()
        folder = Path(path)
        manifest = Manifest.load(folder)
        encoder = encoder or TextEncoder(settings)
        if encoder.name != manifest.encoder:
            raise InputError(
                f"{folder} was built with the encoder {manifest.encoder}; settings select {encoder.name}"
            )
        return cls(
            SQLiteDocStore(folder / DOCSTORE, read_only=True),
            DenseIndex.load(folder / DENSE, mmap=True),
            BM25Index.load(folder / BM25_DIR, mmap=True),
            settings,
            encoder=encoder,
            depth=depth,
            manifest=manifest,
        )

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = TextEncoder(self.settings)
        return self._encoder

    # -- candidates -------------------------------------------------------------------------
    def candidates(
        self, query: str, query_vector: np.ndarray | None = None, depth: int | None = None, *, bm25: bool = True
    ) -> Candidates:
        """Each retriever's top `depth` (key, score), best first (BM25's left empty where the
        caller scores it over several collections itself)."""
        depth = depth or self.depth
        if query_vector is None:
            query_vector = self.encoder.encode([query])[0]
        scores, ids = self.dense.search(query_vector.reshape(1, -1), depth)
        dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        return {"dense": dense, "bm25": self.bm25.search(query, depth) if bm25 else []}

    def rank(self, cands: Candidates, mode: str = "hybrid") -> list[tuple[int, float]]:
        """One ranking of keys from the candidates: fused, or one retriever's own list."""
        if mode in ("dense", "bm25"):
            return list(cands[mode])
        if mode != "hybrid":
            raise InputError(f"unknown retrieval mode {mode!r}; use hybrid, dense or bm25")
        return fuse(cands, self.method, self.weights, self.k)

    # -- search -----------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid") -> list[RetrievedPassage]:
        """The top k passages for `query`, best first, with fused score and per-retriever ranks."""
        if not query or not query.strip():
            raise InputError("the query is empty")
        cands = self.candidates(query)
        return self.materialise(self.rank(cands, mode)[: k or self.settings.read_k], cands)

    def search_batch(
        self, queries: Sequence[str], k: int | None = None, *, mode: str = "hybrid", progress: bool = False
    ) -> list[list[RetrievedPassage]]:
        """`search` for many queries, encoding them in batches (much faster than one by one)."""
        enc = self.encoder
        vectors = (enc.encode(list(queries), progress=progress, description="encoding queries")
                   if isinstance(enc, TextEncoder) else enc.encode(list(queries)))
        k = k or self.settings.read_k
        out = []
        for q, v in zip(queries, vectors, strict=True):
            cands = self.candidates(q, v)
            out.append(self.materialise(self.rank(cands, mode)[:k], cands))
        return out

    def materialise(self, ranked: list[tuple[int, float]], cands: Candidates) -> list[RetrievedPassage]:
        """The passages of `ranked` (key, score), in that order, with each retriever's rank and score;
        keys deleted from the store since the index was read are skipped."""
        ranks = {name: {key: r for r, (key, _) in enumerate(lst, start=1)} for name, lst in cands.items()}
        raw = {name: dict(lst) for name, lst in cands.items()}
        docs = self.docstore.get([key for key, _ in ranked])
        out: list[RetrievedPassage] = []
        for key, score in ranked:
            p = docs.get(key)
            if p is None:  # deleted from the store but not yet from an index
                continue
            out.append(
                RetrievedPassage(
                    id=p.id,
                    title=p.title,
                    text=p.text,
                    source=p.source,
                    score=float(score),
                    ranks={n: r[key] for n, r in ranks.items() if key in r},
                    scores={n: s[key] for n, s in raw.items() if key in s},
                    metadata=p.metadata,
                    key=key,
                )
            )
        return out

    def close(self) -> None:
        self.docstore.close()
