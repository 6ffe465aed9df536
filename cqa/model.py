"""A small logistic model over named features, stored as JSON.

Why logistic regression: the SemEval training part has 670 labelled (question, thread) pairs
and 6,700 labelled comments, too few for anything with many parameters, and its output is a
probability that stays close to calibrated on data like the training data, which is what the
router compares across sources. Features are standardised before fitting; a small L2 penalty
keeps weights sane when features correlate (dense and lexical similarities do).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.atomic import atomic_write_text
from qa.core.errors import DataFormatError


@dataclass
class LogisticModel:
    features: list[str]
    weights: list[float] = field(default_factory=list)
    bias: float = 0.0
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    temperature: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.array([[float(r[f]) for f in self.features] for r in rows], dtype=np.float64).reshape(
            len(rows), len(self.features))

    def logits(self, rows: Sequence[Mapping[str, float]] | np.ndarray) -> np.ndarray:
        x = rows if isinstance(rows, np.ndarray) else self.matrix(rows)
        if not len(x):
            return np.zeros(0)
        z = ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.weights) + self.bias
        return z / self.temperature

    def probabilities(self, rows: Sequence[Mapping[str, float]] | np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(rows), -30, 30)))

    def fit(self, x: np.ndarray, y: Sequence[bool] | np.ndarray, *, l2: float = 1.0,
            sample_weight: np.ndarray | None = None, iterations: int = 100) -> LogisticModel:
        """Newton-Raphson on standardised features; `l2` is the penalty on the weights (not the bias)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        xs = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
        w = np.zeros(xs.shape[1])
        reg = np.full(xs.shape[1], float(l2))
        reg[-1] = 0.0
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(xs @ w, -30, 30)))
            grad = xs.T @ (sw * (p - y)) + reg * w
            hess = (xs * (sw * p * (1 - p))[:, None]).T @ xs + np.diag(reg + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-9:
                break
        self.weights, self.bias = [float(v) for v in w[:-1]], float(w[-1])
        self.mean, self.scale = [float(v) for v in mean], [float(v) for v in scale]
        self.temperature = 1.0
        return self

    def fit_temperature(self, logits: np.ndarray, y: Sequence[bool] | np.ndarray) -> float:
        """The temperature that minimises log loss of held-out logits (1-D search; logits given at T=1)."""
        z = np.asarray(logits, dtype=np.float64)
        t = np.asarray(y, dtype=np.float64)
        best, best_loss = 1.0, np.inf
        for temp in np.exp(np.linspace(np.log(0.25), np.log(4.0), 161)):
            p = np.clip(1.0 / (1.0 + np.exp(-z / temp)), 1e-9, 1 - 1e-9)
            loss = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
            if loss < best_loss:
                best, best_loss = float(temp), loss
        self.temperature = best
        return best

    # ------------------------------------------------------------------ storage
    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LogisticModel:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            model = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise DataFormatError(f"{p} is not a community-QA scoring model: {exc}") from None
        if len(model.weights) != len(model.features):
            raise DataFormatError(f"{p}: {len(model.weights)} weights for {len(model.features)} features")
        return model
