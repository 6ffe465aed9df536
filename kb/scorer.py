"""Scores (question, anchor, relation path) candidates: a linear model over encoder similarities,
lexical overlap and sparse word-relation features, trained with a softmax over each question's
candidates, plus Platt calibration of the top probability."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

import numpy as np

from kb.text import STOPWORDS, content, segments, split_possessed
from qa.core.atomic import atomic_write_text
from qa.core.errors import ConfigError, DataFormatError
from qa.core.text import json_file

if TYPE_CHECKING:
    from rdflib import URIRef

    from kb.encoder import CachedEncoder
    from kb.paths import Path

DEFAULT_WEIGHTS = {
    "cos_aligned": 4.0,
    "cos_bag": 2.0,
    "lex": 2.0,
    "seg_match": 1.0,
    "inverse": -0.3,
    "hops_1": 0.6,
    "hops_2": 0.0,
    "hops_3": -0.6,
    "link": 3.0,
    "type_match": 1.5,
}


def _stem(w: str) -> str:
    return w[:5]


@dataclass
class Featurizer:
    encoder: CachedEncoder | None
    relation_label: Callable[[URIRef], str]
    relation_names: Callable[[URIRef], list[str]] | None = None  # the main label and its aliases

    def features(self, words: list[str], span: tuple[int, int], path: Path, link_score: float) -> dict[str, float]:
        f: dict[str, float] = {"link": link_score, f"hops_{len(path)}": 1.0}
        keys = [s.key for s in path]
        labels = [self.relation_label(s.pred) for s in path]
        f["inverse"] = float(sum(not s.forward for s in path))
        rest = words[: span[0]] + words[span[1]:]
        bag = content(rest)
        segs = segments(words, *span)
        aligned = len(segs) == len(path)
        if not aligned and len(segs) + 1 == len(path):
            split = split_possessed(words, *span)
            if split is not None and len(split) == len(path):
                segs, aligned = split, True
                f["seg_split"] = 1.0
        if aligned:
            f["seg_match"] = 1.0
        for w in bag:
            for k in keys:
                f[f"bw|{w}|{k}"] = 1.0
        if aligned:
            for i, (seg, k) in enumerate(zip(segs, keys, strict=True)):
                for w in content(seg):
                    f[f"al|{w}|{k}"] = 1.0
                f[f"pos{i}|{k}"] = 1.0
        qstems = {_stem(w) for w in bag}
        lab_words = [content(lab.lower().split()) for lab in labels]
        hits = [sum(_stem(w) in qstems for w in lw) / max(1, len(lw)) for lw in lab_words]
        f["lex"] = sum(hits) / len(hits)
        if self.encoder is not None:
            seg_texts = [" ".join(s) for s in segs]
            texts = [" ".join(rest) or "?", " ".join(labels)] + labels + (seg_texts if aligned else [])
            vec = self.encoder.vectors(texts)
            f["cos_bag"] = float(vec[0] @ vec[1])
            if aligned:
                n = len(labels)
                f["cos_aligned"] = float(np.mean([vec[2 + i] @ vec[2 + n + i] for i in range(n)]))
            else:
                f["cos_aligned"] = float(np.mean([vec[0] @ vec[2 + i] for i in range(len(labels))]))
        if self.relation_names is not None:
            self._alias_features(f, path, bag, qstems, [" ".join(s) for s in segs] if aligned else None, rest)
            self._near_feature(f, path, words, span)
        return f

    def _near_feature(self, f: dict[str, float], path: Path, words: list[str], span: tuple[int, int]) -> None:
        """How well the first step's names fit the content word nearest the anchor on either side: the
        relation leaving the entity is usually named right beside it ("compatible with the U990 ...",
        "the capital of France", "Germany 's neighbours"), whatever else the question says."""
        near = []
        for seq in (reversed(words[: span[0]]), words[span[1]:]):
            w = next((x for x in seq if x not in STOPWORDS and x != "s" and not x.isdigit()), None)
            if w is not None:
                near.append(w)
        if not near:
            return
        assert self.relation_names is not None  # `features` asks for it only then
        names = self.relation_names(path[0].pred) or [self.relation_label(path[0].pred)]
        stems = {_stem(w) for w in near}
        best = max((1.0 for n in names if stems & {_stem(w) for w in content(n.lower().split())}), default=0.0)
        if best < 1.0 and self.encoder is not None:
            vec = self.encoder.vectors(near + list(names))
            best = max(best, float((vec[len(near):] @ vec[: len(near)].T).max()))
        f["near"] = best

    def _alias_features(self, f: dict[str, float], path: Path, bag: list[str], qstems: set[str],
                        seg_texts: list[str] | None, rest: list[str]) -> None:
        """The same overlap and similarity against each relation's best-fitting name: a question says
        "money" for a relation labelled "currency" whose alias is "money"."""
        assert self.relation_names is not None  # `features` asks for it only then
        names = [self.relation_names(s.pred) or [self.relation_label(s.pred)] for s in path]
        lex = []
        for options in names:
            best = 0.0
            for n in options:
                lw = content(n.lower().split())
                if lw:
                    best = max(best, sum(_stem(w) in qstems for w in lw) / len(lw))
            lex.append(best)
        f["lex_alias"] = sum(lex) / len(lex)
        if self.encoder is not None:
            flat = [n for options in names for n in options]
            targets = seg_texts if seg_texts is not None else [" ".join(rest) or "?"] * len(path)
            vec = self.encoder.vectors(targets + flat)
            tv, nv = vec[: len(targets)], vec[len(targets):]
            sims, k = [], 0
            for i, options in enumerate(names):
                sims.append(float((nv[k:k + len(options)] @ tv[i]).max()))
                k += len(options)
            f["cos_alias"] = float(np.mean(sims))


@dataclass
class Scorer:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    calibration: tuple[float, float] = (6.0, -3.0)  # sigmoid(a * p_top + b), when there is no calibrator
    threshold: float = 0.3
    meta: dict = field(default_factory=dict)
    calibrator: Calibrator | None = None
    yes_no_calibrator: Calibrator | None = None  # yes/no answers checking one named statement or a class

    def score(self, f: dict[str, float]) -> float:
        w = self.weights
        return sum(w.get(k, 0.0) * v for k, v in f.items())

    def probabilities(self, feats: list[dict[str, float]]) -> np.ndarray:
        s = np.array([self.score(f) for f in feats], dtype=np.float64)
        if not len(s):
            return s
        e = np.exp(s - s.max())
        return e / e.sum()

    def confidence(self, p_top: float, decision: dict[str, float] | None = None) -> float:
        """P(the top answer is right): the calibrator over the decision's features when there is
        one (it sees how well the best path fits in absolute terms, not only against its rivals),
        else Platt scaling of the softmax probability."""
        if decision is not None and self.yes_no_calibrator is not None and checks_a_statement(decision):
            return self.yes_no_calibrator.probability(decision)
        if self.calibrator is not None and decision is not None:
            return self.calibrator.probability(decision)
        a, b = self.calibration
        return 1.0 / (1.0 + math.exp(-(a * p_top + b)))

    # --------------------------------------------------------------- training
    def fit(self, examples: list[tuple[list[dict[str, float]], int]], *, epochs: int = 6, lr: float = 0.2,
            l2: float = 1e-4, seed: int = 13, log: Callable[[str], None] | None = None) -> None:
        rng = np.random.default_rng(seed)
        g2: dict[str, float] = defaultdict(lambda: 1e-8)
        w = self.weights
        for epoch in range(epochs):
            loss = 0.0
            for idx in rng.permutation(len(examples)):
                feats, gold = examples[idx]
                p = self.probabilities(feats)
                loss -= math.log(max(p[gold], 1e-12))
                grad: dict[str, float] = defaultdict(float)
                for i, f in enumerate(feats):
                    coef = p[i] - (1.0 if i == gold else 0.0)
                    if abs(coef) < 1e-6:
                        continue
                    for k, v in f.items():
                        grad[k] += coef * v
                for k, gk in grad.items():
                    gk += l2 * w.get(k, 0.0)
                    g2[k] += gk * gk
                    w[k] = w.get(k, 0.0) - lr * gk / math.sqrt(g2[k])
            if log:
                log(f"epoch {epoch + 1}: loss {loss / max(1, len(examples)):.4f}")
        seen = {k for feats, _ in examples for f in feats for k in f}
        _extrapolate_hops(w, seen)
        self.weights = {k: v for k, v in w.items() if abs(v) > 1e-6}

    def calibrate(self, p_tops: list[float], correct: list[bool]) -> None:
        """Platt scaling of the top candidate's probability against correctness on held-out data."""
        if len(p_tops) < 5 or all(correct) or not any(correct):
            return
        x = np.array(p_tops)
        y = np.array(correct, dtype=float)
        a, b = 1.0, 0.0
        for _ in range(3000):
            z = 1 / (1 + np.exp(-(a * x + b)))
            ga, gb = float(((z - y) * x).mean()), float((z - y).mean())
            a -= 1.0 * ga
            b -= 1.0 * gb
        self.calibration = (a, b)

    def save(self, path: str | FsPath) -> None:
        data = {"weights": self.weights, "calibration": list(self.calibration), "threshold": self.threshold,
                "meta": self.meta}
        if self.calibrator is not None:
            data["calibrator"] = self.calibrator.to_dict()
        if self.yes_no_calibrator is not None:
            data["yes_no_calibrator"] = self.yes_no_calibrator.to_dict()
        atomic_write_text(FsPath(path), json.dumps(data, indent=0, sort_keys=True))

    @classmethod
    def load(cls, path: str | FsPath) -> Scorer:
        p = FsPath(path)
        try:
            data = json_file(p)
            if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
                raise TypeError("a JSON object with a weights object is expected")
            cal, yes_no = data.get("calibrator"), data.get("yes_no_calibrator")
            return cls(weights=data["weights"], calibration=tuple(data["calibration"]),
                       threshold=data.get("threshold", 0.3), meta=data.get("meta", {}),
                       calibrator=Calibrator.from_dict(cal) if cal else None,
                       yes_no_calibrator=Calibrator.from_dict(yes_no) if yes_no else None)
        except FileNotFoundError as exc:
            raise ConfigError(f"scorer file not found: {p}") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
                AttributeError) as exc:
            raise DataFormatError(f"{p} is not a KBQA scorer file: {exc}") from exc


def _extrapolate_hops(w: dict[str, float], seen: set[str]) -> None:
    """Path lengths the training questions never had (the default graph's templates stop at two
    hops) keep getting longer-is-worse: each unseen length costs half the learnt step more, so a
    3-hop detour cannot outrank the 2-hop path it contains."""
    for n in range(2, 6):
        key, prev = f"hops_{n}", f"hops_{n - 1}"
        if key not in seen and prev in w:
            step = max(0.3, (w.get(f"hops_{n - 2}", w[prev] + 0.6) - w[prev]) / 2) if n > 2 else 0.6
            w[key] = min(w.get(key, 0.0), w[prev] - step)


# what the calibrator sees of one decision (see `decision_features` in kb.pipeline)
DECISION_FEATURES = ("p_top", "margin", "score", "cos", "lex", "link", "exact_link", "fuzzy_link",
                     "hops", "seg_match", "type_match", "cover", "rival_cover", "unlinked_names",
                     "self_answer", "constraints")
# what the yes/no calibrator sees beside them: whether the answer is no, whether a class was asked,
# how surely the thing asked of was found
YES_NO_FEATURES = (*DECISION_FEATURES, "ask_no", "member", "target_link", "target_fuzzy")


def checks_a_statement(decision: dict[str, float]) -> bool:
    """Whether a decision is a yes/no answer that checks one named statement or what a thing is:
    those the yes/no calibrator weighs."""
    return bool(decision.get("ask") or decision.get("member"))


@dataclass
class Calibrator:
    """Logistic regression from a decision's features to P(the top answer is right).

    The softmax probability alone only says how much better the best path is than its rivals; a
    question the graph cannot answer ("who is the president of France?" on a graph without
    presidents) still has a clear best path. Absolute evidence (how similar the path's labels are
    to the question, how exactly the anchor matched, how many answers came back) tells the two
    apart. Fitted on generated questions, answerable and not, never on a reported set.
    """

    weights: dict[str, float]
    bias: float
    mean: dict[str, float]
    scale: dict[str, float]

    def probability(self, f: dict[str, float]) -> float:
        z = self.bias + sum(w * (f.get(k, 0.0) - self.mean[k]) / self.scale[k] for k, w in self.weights.items())
        if not math.isfinite(z):  # a broken feature is no evidence (clamping NaN would make it certainty)
            return 0.0
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def fit(cls, rows: list[dict[str, float]], labels: list[bool], *, l2: float = 1.0,
            weights: list[float] | None = None, features: tuple[str, ...] = DECISION_FEATURES) -> Calibrator:
        """Newton's method (IRLS) on standardised features with an L2 penalty; `weights` per row."""
        keys = list(features)
        x = np.array([[r.get(k, 0.0) for k in keys] for r in rows], dtype=np.float64)
        y = np.array(labels, dtype=np.float64)
        sw = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
        mean = x.mean(0)
        scale = x.std(0)
        scale[scale < 1e-9] = 1.0
        z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
        w = np.zeros(z.shape[1])
        reg = np.full(z.shape[1], l2)
        reg[-1] = 1e-6
        for _ in range(50):
            p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
            grad = z.T @ (sw * (p - y)) + reg * w
            hess = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(reg)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        return cls(weights={k: float(v) for k, v in zip(keys, w[:-1], strict=True)}, bias=float(w[-1]),
                   mean={k: float(v) for k, v in zip(keys, mean, strict=True)},
                   scale={k: float(v) for k, v in zip(keys, scale, strict=True)})

    def to_dict(self) -> dict:
        return {"weights": self.weights, "bias": self.bias, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        return cls(weights=dict(d["weights"]), bias=float(d["bias"]), mean=dict(d["mean"]), scale=dict(d["scale"]))
