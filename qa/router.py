"""The router's classifier: which source should a question go to first?

A multinomial logistic regression over the sentence encoder's question vector (the same vectors
retrieval computes, so routing costs one matrix product), trained on questions whose right source
is known: SQuAD training questions (webqa); PathQuestion training splits, QALD-9 and questions
generated from the embedded graph (kbqa); SemEval training questions and the community-QA seed
(cqa, once that source exists). Nothing that routed-qa tests is trained on.

The classifier only orders the sources; the engine's cascade decides, by comparing the calibrated
scores of the answers it gets, so a misrouted question still finds its answer when the second
source is sure and the first is not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.core.atomic import atomic_write_text
from qa.core.errors import DataFormatError
from qa.core.paths import data_file
from qa.core.settings import Settings
from qa.core.text import json_file
from qa.core.types import Encoder, Route

ROUTES = (Route.WEBQA, Route.KBQA, Route.CQA)


def model_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "router" / "router.json"


class RouteClassifier:
    """Softmax over routes from an encoder vector; routes never trained on get probability 0."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray, routes: Sequence[Route], meta: dict | None = None):
        self.weights = np.asarray(weights, dtype=np.float32)  # (dim, n_routes)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.routes = tuple(Route(r) for r in routes)
        self.meta = meta or {}

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        z = np.asarray(vectors, dtype=np.float32) @ self.weights + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def classify(self, vector: np.ndarray, available: Sequence[Route] | None = None) -> dict[Route, float]:
        """Route -> probability for one question vector, renormalised over `available` routes."""
        p = self.probabilities(np.asarray(vector).reshape(1, -1))[0]
        probs = {r: float(v) for r, v in zip(self.routes, p, strict=True)}
        if available is not None:
            probs = {r: probs.get(r, 0.0) for r in available}
            total = sum(probs.values())
            probs = {r: v / total for r, v in probs.items()} if total > 0 else {r: 1 / len(probs) for r in probs}
        return dict(sorted(probs.items(), key=lambda kv: -kv[1]))

    # ------------------------------------------------------------------ training and storage
    @classmethod
    def fit(cls, vectors: np.ndarray, labels: Sequence[Route], *, l2: float = 1e-4, epochs: int = 1500,
            lr: float = 0.05, meta: dict | None = None) -> RouteClassifier:
        """Full-batch Adam on the softmax cross-entropy, classes weighted to balance (a few
        seconds for tens of thousands of questions)."""
        routes = tuple(r for r in ROUTES if r in set(labels))
        y = np.array([routes.index(r) for r in labels])
        x = np.asarray(vectors, dtype=np.float64)
        n, d = x.shape
        k = len(routes)
        counts = np.bincount(y, minlength=k).astype(np.float64)
        sample_w = (n / (k * counts))[y] / n
        params = [np.zeros((d, k)), np.zeros(k)]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        onehot = np.eye(k)[y]
        for t in range(1, epochs + 1):
            z = x @ params[0] + params[1]
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - onehot) * sample_w[:, None]
            grads = [x.T @ g + l2 * params[0], g.sum(axis=0)]
            for i, gr in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * gr
                v[i] = 0.999 * v[i] + 0.001 * gr * gr
                params[i] -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
        return cls(params[0], params[1], routes, meta)

    def save(self, path: str | Path) -> None:
        data = {"routes": [str(r) for r in self.routes], "bias": self.bias.tolist(),
                "weights": np.round(self.weights, 6).tolist(), "meta": self.meta}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(path), json.dumps(data) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> RouteClassifier:
        try:
            data = json_file(Path(path))
            return cls(np.array(data["weights"]), np.array(data["bias"]), data["routes"], data.get("meta"))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise DataFormatError(f"{path} is not a router model: {exc} (retrain with `qa train router`)") from exc


class Router:
    """Orders the available sources for a question, best first, with the classifier's probabilities."""

    def __init__(self, settings: Settings, encoder: Encoder, classifier: RouteClassifier | None = None) -> None:
        self.settings = settings
        self.encoder = encoder
        self._classifier = classifier

    @property
    def classifier(self) -> RouteClassifier:
        if self._classifier is None:
            path = data_file(self.settings.data_dir, "router", "router.json")
            if not path.exists():
                raise DataFormatError(f"the router model {path} is missing; train it with `qa train router`")
            self._classifier = RouteClassifier.load(path)
        return self._classifier

    def order(self, question: str, available: Sequence[Route]) -> dict[Route, float]:
        vec = self.encoder.encode([question])[0]
        return self.classifier.classify(vec, available)
