"""Scores that mean "probability this answer is right", and the measures that check them.

A source's raw score orders its own candidates but says nothing comparable across sources or
questions. Each source's shown score is therefore a small logistic model over a few signals,
fitted on training data only (never on the dev sets we report): for WebQA, SQuAD training
articles the span reader never saw, read in the open setting (retrieval over many paragraphs),
labelled by exact match. The model is tiny (a weight per feature), so it is stored as JSON beside
the data and applied with numpy.

`ece` and `auroc` are the calibration benchmark's measures: expected calibration error over 15
equal-width bins, and the probability that a right answer is scored above a wrong one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.atomic import atomic_write_text
from qa.core.errors import DataFormatError
from qa.core.settings import Settings

WEBQA_FEATURES = ("reader_logit", "log_mass", "support", "inv_rank", "retrieval_score", "gap",
                  "log_length", "passage_abstained")


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def span_features(*, reader_prob: float, mass: float, support: int, rank: int, retrieval_score: float,
                  gap: float, length: int, passage_abstained: bool) -> dict[str, float]:
    """The signals a WebQA answer's probability of being right is computed from."""
    return {
        "reader_logit": _logit(reader_prob),
        "log_mass": math.log(max(mass, 1e-6)),
        "support": math.log1p(max(support, 0)),
        "inv_rank": 1.0 / max(rank, 1),
        "retrieval_score": float(retrieval_score),
        "gap": max(-20.0, min(20.0, gap)) / 10.0,
        "log_length": math.log1p(max(length, 0)),
        "passage_abstained": 1.0 if passage_abstained else 0.0,
    }


@dataclass
class AnswerCalibrator:
    """Logistic regression over named features; without weights it passes the reader's own
    probability through (the state before a calibrator is fitted)."""

    features: tuple[str, ...] = WEBQA_FEATURES
    weights: list[float] = field(default_factory=list)
    bias: float = 0.0
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def fitted(self) -> bool:
        return len(self.weights) == len(self.features)

    def _matrix(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        return np.array([[float(r[f]) for f in self.features] for r in rows], dtype=np.float64)

    def probability(self, feats: dict[str, float]) -> float:
        return float(self.probabilities([feats])[0])

    def probabilities(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        if not self.fitted:
            return np.array([1.0 / (1.0 + math.exp(-r["reader_logit"])) for r in rows])
        x = (self._matrix(rows) - np.array(self.mean)) / np.array(self.scale)
        z = x @ np.array(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def fit(self, rows: Sequence[dict[str, float]], labels: Sequence[bool], *, l2: float = 1e-2,
            iterations: int = 50) -> AnswerCalibrator:
        """Newton-Raphson (IRLS) on standardised features with a small L2 penalty."""
        x = self._matrix(rows)
        y = np.asarray(labels, dtype=np.float64)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        xs = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
        w = np.zeros(xs.shape[1])
        reg = np.full(xs.shape[1], l2)
        reg[-1] = 0.0
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(xs @ w, -30, 30)))
            grad = xs.T @ (p - y) + reg * w
            hess = (xs * (p * (1 - p))[:, None]).T @ xs + np.diag(reg + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        self.weights, self.bias = [float(v) for v in w[:-1]], float(w[-1])
        self.mean, self.scale = [float(v) for v in mean], [float(v) for v in scale]
        return self

    # ------------------------------------------------------------------ storage
    def save(self, path: str | Path) -> None:
        data = {"features": list(self.features), "weights": self.weights, "bias": self.bias,
                "mean": self.mean, "scale": self.scale, "meta": self.meta}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(path), json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> AnswerCalibrator:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(features=tuple(data["features"]), weights=list(data["weights"]), bias=float(data["bias"]),
                       mean=list(data["mean"]), scale=list(data["scale"]), meta=dict(data.get("meta", {})))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"{path} is not a calibrator file: {exc}") from exc

    @classmethod
    def load_default(cls, settings: Settings) -> AnswerCalibrator:
        path = Path(settings.data_dir) / "calibration" / "webqa.json"
        return cls.load(path) if path.exists() else cls()


# ---------------------------------------------------------------------- measures
def ece(scores: Sequence[float], correct: Sequence[bool], bins: int = 15) -> float:
    """Expected calibration error over `bins` equal-width bins (0-1 scale)."""
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


def auroc(scores: Sequence[float], correct: Sequence[bool]) -> float:
    """Probability that a random right answer outscores a random wrong one (ties count half)."""
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(correct, dtype=bool)
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


def accuracy_at_coverage(scores: Sequence[float], correct: Sequence[bool], coverage: float) -> float:
    """Accuracy over the `coverage` fraction of questions with the highest scores (0-100 scale)."""
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(correct, dtype=np.float64)
    n = max(1, int(round(len(s) * coverage)))
    top = np.argsort(-s, kind="mergesort")[:n]
    return float(100 * c[top].mean()) if len(s) else 0.0
