"""The calibration benchmark's measures, shared by every source and benchmark.

A shown score is meant as "probability this is right", so it is checked the way the benchmarks
define it (../shared/BENCHMARKS.md): expected calibration error over 15 equal-width bins, the
probability that a right answer is scored above a wrong one (AUROC), and accuracy when only the
most confident fraction is answered. One copy, so a source's training report and the benchmark
that judges it cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np

Scores: TypeAlias = Sequence[float] | np.ndarray
# right or wrong (1/0, True/False); `ece` and `accuracy_at_coverage` also take a soft label in
# [0, 1] (an F1), `auroc` does not: it ranks right against wrong
Outcomes: TypeAlias = Sequence[float] | np.ndarray


def _paired(scores: Scores, correct: Outcomes) -> None:
    if len(scores) != len(correct):
        raise ValueError(f"{len(scores)} scores for {len(correct)} outcomes")


def ece(scores: Scores, correct: Outcomes, bins: int = 15) -> float:
    """Expected calibration error over `bins` equal-width bins (0-1 scale)."""
    _paired(scores, correct)
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    c = np.asarray(correct, dtype=np.float64)
    if len(s) == 0:
        return 0.0
    idx = np.minimum((s * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(s) * abs(s[m].mean() - c[m].mean())
    return float(total)


def _ece_draws(scores: Scores, draws: int, seed: int) -> np.ndarray:
    """ECEs of a perfectly calibrated score: outcomes drawn from the scores themselves."""
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    rng = np.random.default_rng(seed)
    return np.array([ece(s, rng.random(len(s)) < s) for _ in range(draws)])


def ece_if_calibrated(scores: Scores, draws: int = 1000, seed: int = 0) -> float:
    """The ECE a perfectly calibrated score would still show with these scores on this many
    questions (outcomes drawn from the scores themselves, averaged over `draws`): on 50 questions
    spread over 15 bins it is far from 0, so a measured ECE is read against it, not against 0."""
    if len(scores) == 0:
        return 0.0
    return float(np.mean(_ece_draws(scores, draws, seed)))


def ece_p_value(scores: Scores, correct: Outcomes, draws: int = 1000, seed: int = 0) -> float:
    """How often a perfectly calibrated score with these scores shows an ECE at least as large as
    the measured one (the same draws as `ece_if_calibrated`). On a few questions the measured ECE
    alone cannot tell miscalibration from chance; a small value here (under 0.05) can: the scores
    are then miscalibrated beyond what so few outcomes explain."""
    _paired(scores, correct)
    if len(scores) == 0 or draws < 1:
        return 1.0
    measured = ece(scores, correct)
    # (1 + k) / (1 + draws): a finite number of draws never shows a p-value of exactly 0
    return float((1 + np.sum(_ece_draws(scores, draws, seed) >= measured - 1e-12)) / (1 + draws))


def ece_chance_within(scores: Scores, target: float, draws: int = 1000, seed: int = 0) -> float:
    """How often a perfectly calibrated score with these scores shows an ECE of at most `target`
    (the same draws as `ece_if_calibrated`): whether a target can be met on this few questions at
    all. Near 0, no score spread like these can meet it, however well calibrated; only a sharper
    score (more of it near 0 and 1) or more questions can."""
    if len(scores) == 0 or draws < 1:
        return 1.0
    return float(np.mean(_ece_draws(scores, draws, seed) <= target + 1e-12))


def auroc(scores: Scores, correct: Outcomes) -> float:
    """Probability that a random right answer outscores a random wrong one (ties count half).
    Outcomes are right or wrong: a soft label (0.0001 read as right) is refused."""
    _paired(scores, correct)
    s = np.asarray(scores, dtype=np.float64)
    raw = np.asarray(correct, dtype=np.float64)
    if len(raw) and not np.isin(raw, (0.0, 1.0)).all():
        raise ValueError("auroc takes outcomes that are right or wrong (1 or 0), not soft labels")
    c = raw.astype(bool)
    pos, neg = s[c], s[~c]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def accuracy_at_coverage(scores: Scores, correct: Outcomes, coverage: float) -> float:
    """Accuracy over the `coverage` fraction of questions with the highest scores (0-100 scale)."""
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(correct, dtype=np.float64)
    n = max(1, int(round(len(s) * coverage)))
    top = np.argsort(-s, kind="mergesort")[:n]
    return float(100 * c[top].mean()) if len(s) else 0.0
