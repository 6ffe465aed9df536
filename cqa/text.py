"""Word-level text helpers shared by BM25 and the re-scorer's lexical features: lower-case word
tokens, English stop words removed, Snowball-stemmed (the same recipe as passage retrieval, so a
thread and a passage are tokenised alike)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from qa.core.text import comparable

STOPWORDS = "en"
_WORD = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Stemmed content-word tokens of each text (what BM25 indexes)."""
    stop = _stopwords()
    stem = _stemmer().stemWords
    # composed first: "mu\u0308ller" (NFD, as some editors save) is one word, the same as "müller";
    # full-width "４５" is 45
    return [stem([w for w in _WORD.findall(comparable(t).lower()) if w not in stop]) for t in texts]


def overlap(a: Sequence[str], b: Sequence[str]) -> tuple[float, float]:
    """(Jaccard, share of `a`'s distinct tokens found in `b`) of two token lists."""
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0, 0.0
    inter = len(sa & sb)
    return inter / len(sa | sb), inter / len(sa)
