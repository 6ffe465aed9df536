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
from qa.core.text import json_file


@dataclass
class LogisticModel:
    features: list[str]
    weights: list[float] = field(default_factory=list)
    bias: float = 0.0
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    # (a, b, c): shown logit = a * z + b, plus c for the best candidate of a group (see `logits`)
    calibration: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])
    meta: dict[str, Any] = field(default_factory=dict)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.array([[float(r[f]) for f in self.features] for r in rows], dtype=np.float64).reshape(
            len(rows), len(self.features))

    def logits(self, rows: Sequence[Mapping[str, float]] | np.ndarray, *, group: bool = False) -> np.ndarray:
        """Calibrated logits. With `group`, the rows are the candidates of one question and the best
        of them gets the calibration's third term: the best of several candidates is right more often
        than another candidate with the same raw score (it won a comparison), and the order within the
        group is kept (the term is never negative)."""
        a, b, c = self.calibration
        z = self.raw_logits(rows)
        out = a * z + b
        if group and len(z):
            out[int(np.argmax(z))] += c
        return out

    def raw_logits(self, rows: Sequence[Mapping[str, float]] | np.ndarray) -> np.ndarray:
        """Logits of the fitted weights, before the calibration map."""
        x = rows if isinstance(rows, np.ndarray) else self.matrix(rows)
        if not len(x):
            return np.zeros(0)
        return ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.weights) + self.bias

    def probabilities(self, rows: Sequence[Mapping[str, float]] | np.ndarray, *, group: bool = False) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(rows, group=group), -30, 30)))

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
        self.calibration = [1.0, 0.0, 0.0]
        return self

    def fit_calibration(self, raw_logits: np.ndarray, y: Sequence[bool] | np.ndarray,
                        best: np.ndarray | None = None) -> list[float]:
        """Platt scaling on held-out raw logits: sigmoid(a * z + b), with `best` (which rows were the
        best candidate of their group) also the group term c >= 0. A monotone map within a group, so
        it changes the probabilities shown, never the order."""
        z = np.asarray(raw_logits, dtype=np.float64)
        cols = [z] if best is None else [z, np.asarray(best, dtype=np.float64)]
        x = np.stack(cols, axis=1)
        platt = LogisticModel([f"x{i}" for i in range(x.shape[1])]).fit(x, y, l2=1e-4)
        w = np.array(platt.weights) / np.array(platt.scale)
        b = platt.bias - float(w @ np.array(platt.mean))
        c = float(w[1]) if best is not None else 0.0
        if c < 0:  # a negative term could reorder a group: fit without it
            return self.fit_calibration(z, y)
        self.calibration = [float(w[0]), float(b), c]
        return self.calibration

    # ------------------------------------------------------------------ storage
    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LogisticModel:
        p = Path(path)
        try:
            data = json_file(p)
            model = cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise DataFormatError(f"{p} is not a community-QA scoring model: {exc}") from None
        if len(model.weights) != len(model.features) or len(model.calibration) != 3:
            raise DataFormatError(f"{p}: {len(model.weights)} weights for {len(model.features)} features")
        return model
