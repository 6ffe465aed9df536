"""Fitting the temperature of the span reader's calibrated score.

`SpanReader` reports ``sigmoid(margin / T)`` with ``margin = span_score - null_score +
null_threshold`` (0.5 exactly at the answer / no-answer boundary). Raw logit margins of a trained
reader span tens of units, so with T = 1 nearly every score is 0.00 or 1.00; fitting T on
held-out questions (never on dev) makes the score mean "the share of such answers that are
right", which the router needs to compare readers with other answer sources.

The trainer stores the result as `score_temperature` in the model's `qa_reader.json`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_temperature(
    margins: Sequence[float], correct: Sequence[float], grid: Sequence[float] | None = None
) -> float:
    """The T > 0 that minimises the log loss of ``sigmoid(margin / T)`` against `correct`
    (1 where the reader's decision was right, e.g. F1 >= 0.5 or a right abstention; soft labels
    such as the F1 itself also work). A one-parameter fit: a coarse log-spaced grid, then a
    finer one around the best point, which is robust where Newton steps overshoot."""
    m = np.asarray(margins, dtype=np.float64)
    y = np.clip(np.asarray(correct, dtype=np.float64), 0.0, 1.0)
    if m.shape != y.shape or m.size == 0:
        raise ValueError("margins and correct must be non-empty and of the same length")
    ok = np.isfinite(m)
    m, y = m[ok], y[ok]

    def loss(t: float) -> float:
        z = m / t
        # log(1 + exp(-z)) and log(1 + exp(z)), numerically stable
        return float(np.mean(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)))

    coarse = np.geomspace(0.05, 100.0, 80) if grid is None else np.asarray(grid, dtype=np.float64)
    best = min(coarse, key=loss)
    fine = np.geomspace(best / 1.2, best * 1.2, 41)
    return float(min(fine, key=loss))
