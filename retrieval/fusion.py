"""Combine the rankings of several retrievers into one.

Two methods:

* ``rrf``, weighted reciprocal-rank fusion: ``score(d) = sum_r w_r / (k + rank_r(d))``. Only
  ranks matter, so retrievers with incomparable score scales fuse without calibration.
  Plain RRF (all weights 1, k = 60) is the classic recipe.
* ``convex``, a convex combination of per-query min-max normalised scores:
  ``score(d) = sum_r w_r * (s_r(d) - min_r) / (max_r - min_r)`` over each retriever's
  candidate list (a passage a retriever did not return counts as its minimum). It keeps
  the *margins* between scores, which RRF throws away: when BM25 is very sure (a rare name
  matches) it can outvote a flat dense ranking.

The weights and k used by default are tuned on SQuAD *training* questions (see
benchmarks/squad_open.py --tune), never on the dev set that is reported.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

METHODS = ("rrf", "convex")

# a passage's id (hashable, and ordered: ties are broken by it): its docstore key, or (collection, key)
# when collections are fused together
Id = TypeVar("Id", bound=Hashable)


def rrf(
    rankings: Mapping[str, Sequence[Id]],
    weights: Mapping[str, float] | None = None,
    k: float = 60.0,
) -> list[tuple[Id, float]]:
    """Weighted reciprocal-rank fusion of ranked id lists (best first); returns (id, score) best first.

    Ties are broken by the id's best rank in any list, then by the id, so results are
    deterministic.
    """
    if k < 0:
        raise ValueError("the RRF constant k must be >= 0")
    scores: dict[Id, float] = {}
    best: dict[Id, int] = {}
    for name, ranked in rankings.items():
        w = 1.0 if weights is None else float(weights.get(name, 1.0))
        for rank, doc in enumerate(ranked, start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
            best[doc] = min(best.get(doc, rank), rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], kv[0]))


def _minmax(scored: Sequence[tuple[Id, float]]) -> dict[Id, float]:
    if not scored:
        return {}
    values = [s for _, s in scored]
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-12:
        return {doc: 1.0 for doc, _ in scored}
    return {doc: (s - lo) / (hi - lo) for doc, s in scored}


def convex(
    scored: Mapping[str, Sequence[tuple[Id, float]]],
    weights: Mapping[str, float] | None = None,
) -> list[tuple[Id, float]]:
    """Weighted sum of min-max normalised scores; `scored` maps retriever -> [(id, score)] best first."""
    norm = {name: _minmax(lst) for name, lst in scored.items()}
    best: dict[Id, int] = {}
    for lst in scored.values():
        for rank, (doc, _) in enumerate(lst, start=1):
            best[doc] = min(best.get(doc, rank), rank)
    out: dict[Id, float] = {}
    for doc in best:
        total = 0.0
        for name, n in norm.items():
            w = 1.0 if weights is None else float(weights.get(name, 1.0))
            total += w * n.get(doc, 0.0)
        out[doc] = total
    return sorted(out.items(), key=lambda kv: (-kv[1], best[kv[0]], kv[0]))


def highest(method: str, weights: Mapping[str, float], k: float = 60.0) -> float:
    """The largest score `fuse` can give (a passage first in every list), so a fused score can be
    read on one scale whatever the weights: 10 and 10 made every score twenty times the usual."""
    total = sum(max(float(w), 0.0) for w in weights.values())
    top = total / (k + 1) if method == "rrf" else total
    return top if top > 0 else 1.0


def fuse(
    scored: Mapping[str, Sequence[tuple[Id, float]]],
    method: str = "rrf",
    weights: Mapping[str, float] | None = None,
    k: float = 60.0,
) -> list[tuple[Id, float]]:
    """Fuse retriever outputs ([(id, score)] best first) with `method` ("rrf" or "convex")."""
    if method == "rrf":
        return rrf({name: [doc for doc, _ in lst] for name, lst in scored.items()}, weights, k)
    if method == "convex":
        return convex(scored, weights)
    raise ValueError(f"unknown fusion method {method!r}; choose one of {', '.join(METHODS)}")
