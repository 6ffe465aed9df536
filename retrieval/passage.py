"""The two records retrieval passes around: a passage to store and a passage found by a search."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Passage:
    """A unit of retrieval: a chunk of a document, small enough for the encoder and the reader.

    `id` is the stable external id (e.g. ``"notes.md#3"``); the stores map it to an int64 key
    because FAISS ids are integers.
    """

    id: str
    text: str
    title: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RetrievedPassage:
    """A passage ranked for a query.

    `score` is the fused score that produced the ranking; `ranks` holds each retriever's
    1-based rank (absent when that retriever did not return the passage), so callers can
    explain why a passage came up.
    """

    id: str
    title: str
    text: str
    source: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    key: int | None = None  # the docstore key inside its index folder
    collection: str = ""
