"""Scores that mean "probability this answer is right", and the measures that check them.

A source's raw score orders its own candidates but says nothing comparable across sources or
questions. Each source's shown score is therefore a small logistic model over a few signals,
fitted on training data only (never on the dev sets we report): for WebQA, SQuAD training
articles the span reader never saw, read in the open setting (retrieval over many paragraphs),
labelled by exact match. The model is tiny (a weight per feature), so it is stored as JSON beside
the data and applied with numpy.

The measures that check them (`ece`, `auroc`, ...) are in `qa.core.measures`, shared with the
sources' training reports and the benchmarks.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.atomic import atomic_write_text
from qa.core.errors import DataFormatError, InputError
from qa.core.paths import data_file
from qa.core.settings import Settings
from qa.core.text import comparable, json_file

WEBQA_FEATURES = ("reader_logit", "log_mass", "log_mass_t3", "support", "inv_rank", "retrieval_score", "gap",
                  "log_length", "passage_abstained", "q_overlap", "type_known", "type_match", "log_groups",
                  "boundary_share", "log_members", "wh_what", "wh_which", "wh_how", "wh_why", "wh_where",
                  "q_cover", "q_named_missing", "q_named_nowhere", "dense", "dense_top")
_WH = ("what", "which", "how", "why", "where")
# Words a question is phrased with rather than about: absent from a passage, they say nothing.
_ASKING = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "does", "do", "has", "have",
           "had", "can", "could", "would", "should", "will", "name", "many", "much", "not", "there", "their",
           "they", "he", "she", "his", "her", "been", "being", "than", "into"}

_WORD = re.compile(r"[\w']+")
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"}
_NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                 "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "billion", "dozen",
                 "half", "several", "few"}
_STOP = {"the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or", "is", "was", "by", "with", "from",
         "as", "that", "this", "it", "its", "be", "are", "were"}


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def expected_type(question: str) -> str | None:
    """The kind of answer a question's wording asks for, when it says so."""
    q = question.lower()
    if re.search(r"\b(how (many|much|long|old|far|big|large|tall|high)|what (percentage|percent|number|amount)|"
                 r"how many)\b", q):
        return "number"
    if re.search(r"\b(when|what year|which year|what date|what century|what decade)\b", q):
        return "date"
    if re.search(r"\b(who|whom|whose)\b", q):
        return "name"
    return None


def answer_matches(kind: str, answer: str) -> bool:
    words = [w.lower() for w in _WORD.findall(answer)]
    has_digit = any(c.isdigit() for c in answer)
    if kind == "number":
        return has_digit or any(w in _NUMBER_WORDS for w in words)
    if kind == "date":
        return has_digit or any(w in _MONTHS for w in words)
    return any(w[:1].isupper() for w in _WORD.findall(answer)) and not has_digit


def span_features(*, question: str, answer: str, reader_prob: float, mass: float, mass_t3: float, support: int,
                  rank: int, retrieval_score: float, gap: float, passage_abstained: bool,
                  groups: int, boundary_share: float = 1.0, members: int = 1, passage: str | set[str] = "",
                  nowhere: int = 0, dense: float | None = None, dense_top: float | None = None) -> dict[str, float]:
    """The signals a WebQA answer's probability of being right is computed from: how sure the
    reader is (its own probability, the share of all span probability the answer holds), how much
    retrieval agrees (passages giving it, rank, fused score), and whether the answer has the form
    the question asks for and does not just repeat the question's words. Exact-match correctness
    also hangs on the span's boundaries: `boundary_share` is how much of its group's probability
    the chosen boundaries hold (nested variants competing means the edges are uncertain).

    A fluent span from a passage about something else is the commonest confident mistake on a
    collection that does not hold the answer ("Who won the 2031 World Cup?" read from the 2026
    final): `q_cover` is how much of what the question is about the passage (with its title) says,
    `q_named_missing` how many of the question's numbers and names it lacks (`nowhere`: how many
    no passage found for the question has: "the Eagle release" when only the Falcon one is
    written about, "ticket 44" beside tickets 42 and 43), and `dense` /
    `dense_top` how close the passage, and the closest passage found for the question at all, are
    in meaning (the encoder's cosine; the reader's own confidence does not see any of these)."""
    first = next((w for w in (x.lower() for x in _WORD.findall(question)) if w in _WH), "")
    a_words = [w.lower() for w in _WORD.findall(answer) if w.lower() not in _STOP]
    q_words = {w.lower() for w in _WORD.findall(question)}
    overlap = sum(w in q_words for w in a_words) / len(a_words) if a_words else 0.0
    kind = expected_type(question)
    cover, missing = question_coverage(question, passage)
    return {
        "reader_logit": _logit(reader_prob),
        "log_mass": math.log(max(mass, 1e-6)),
        "log_mass_t3": math.log(max(mass_t3, 1e-6)),
        "support": math.log1p(max(support, 0)),
        "inv_rank": 1.0 / max(rank, 1),
        "retrieval_score": float(retrieval_score),
        "gap": max(-20.0, min(20.0, gap)) / 10.0,
        "log_length": math.log1p(len(answer.split())),
        "passage_abstained": 1.0 if passage_abstained else 0.0,
        "q_overlap": overlap,
        "type_known": 0.0 if kind is None else 1.0,
        "type_match": 0.0 if kind is None else float(answer_matches(kind, answer)),
        "log_groups": math.log1p(groups),
        "boundary_share": float(boundary_share),
        "log_members": math.log1p(members),
        **{f"wh_{w}": float(first == w) for w in _WH},
        "q_cover": cover,
        "q_named_missing": math.log1p(missing),
        "q_named_nowhere": math.log1p(nowhere),
        "dense": float(dense) if dense is not None else 0.0,
        "dense_top": float(dense_top) if dense_top is not None else 0.0,
    }


_NUMBER = re.compile(r"(?<![\d.,])\d+(?:,\d{3})*(?:\.\d+)?")  # "1,000", "3.5", the "1930" of "1930s"


def terms(text: str) -> set[str]:
    """What a text says, as `question_coverage` compares it: words by their first five letters
    ("elected" meets "election"), numbers whole and without their thousands commas ("1,000" is
    1000, "3.5" is not 3 and 5)."""
    text = comparable(text)
    words = {w.lower()[:5] for w in _WORD.findall(text) if not any(c.isdigit() for c in w)}
    return words | {m.group().replace(",", "") for m in _NUMBER.finditer(text)}


def named_words(question: str) -> set[str]:
    """The question's numbers and its capitalised words after the first (but for small words a
    Title Case question capitalises, and single letters: "U.S."), as `terms` writes them."""
    question = comparable(question)
    toks = [w for w in _WORD.findall(question) if not any(c.isdigit() for c in w)]
    names = {w.lower()[:5] for i, w in enumerate(toks)
             if i > 0 and w[:1].isupper() and len(w) > 1 and w.lower() not in _ASKING and w.lower() not in _STOP}
    return names | {m.group().replace(",", "") for m in _NUMBER.finditer(question)}


def named_nowhere(question: str, passages: Sequence[str | set[str]]) -> int:
    """How many of the question's numbers and names none of `passages` (texts, or their `terms`) has."""
    have = set().union(*(p if isinstance(p, set) else terms(p) for p in passages)) if passages else set()
    return len(named_words(question) - have)


def question_coverage(question: str, passage: str | set[str]) -> tuple[float, int]:
    """(share of the question's content words the passage has, count of the question's numbers
    and names it lacks); words and numbers are compared as `terms` writes them, so "1930s" meets
    "1930"; a passage of no text covers nothing. `passage` may be given as its `terms`, worked
    out once for all the answers read from it."""
    have = passage if isinstance(passage, set) else terms(passage)
    question = comparable(question)
    content = {w.lower()[:5] for w in _WORD.findall(question) if w.lower() not in _STOP
               and w.lower() not in _ASKING and len(w) > 2 and not any(c.isdigit() for c in w)}
    content |= {m.group().replace(",", "") for m in _NUMBER.finditer(question)}
    cover = len(content & have) / len(content) if content else 1.0
    return cover, len(named_words(question) - have)


@dataclass
class AnswerCalibrator:
    """Logistic regression over named features; without weights it passes the reader's own
    probability through (the state before a calibrator is fitted)."""

    features: tuple[str, ...] = WEBQA_FEATURES
    weights: list[float] = field(default_factory=list)
    bias: float = 0.0
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    platt: tuple[float, float] = (1.0, 0.0)  # top answers' calibration on top of the ranking logit
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
        z = self.platt[0] * self.logits(rows) + self.platt[1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def logits(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """The ranking model's log-odds (before the top-answer calibration)."""
        x = (self._matrix(rows) - np.array(self.mean)) / np.array(self.scale)
        return x @ np.array(self.weights) + self.bias

    def fit(self, rows: Sequence[dict[str, float]], labels: Sequence[float], *, l2: float = 1e-2,
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
                "mean": self.mean, "scale": self.scale, "platt": list(self.platt), "meta": self.meta}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(path), json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> AnswerCalibrator:
        if not Path(path).is_file():
            raise InputError(f"calibrator file not found: {path}")
        try:
            data = json_file(Path(path))
            return cls(features=tuple(data["features"]), weights=list(data["weights"]), bias=float(data["bias"]),
                       mean=list(data["mean"]), scale=list(data["scale"]),
                       platt=tuple(data.get("platt", (1.0, 0.0))), meta=dict(data.get("meta", {})))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"{path} is not a calibrator file: {exc}") from exc

    def fitted_otherwise(self, settings: Settings) -> str:
        """The settings this calibrator was fitted under that differ from `settings` ("" when none
        does): the features (how many passages give an answer, its rank) mean other things when the
        reader reads another number of passages, or fusion ranks them otherwise (from another number
        of candidates)."""
        # a calibrator from before these were recorded was fitted with the defaults of then
        fitted = {"read_k": self.meta.get("read_k"), "fusion_method": self.meta.get("fusion_method", "convex"),
                  "retrieve_k": self.meta.get("retrieve_k", 100)}
        now = {"read_k": settings.read_k, "fusion_method": str(settings.fusion_method),
               "retrieve_k": settings.retrieve_k}
        return ", ".join(f"{k} {v}" for k, v in fitted.items() if v is not None and v != now[k])

    @classmethod
    def load_default(cls, settings: Settings) -> AnswerCalibrator:
        path = data_file(settings.data_dir, "calibration", "webqa.json")
        return cls.load(path) if path.exists() else cls()


def platt_fit(logits: Sequence[float], labels: Sequence[float], iterations: int = 100) -> tuple[float, float]:
    """(a, b) of sigmoid(a * z + b) fitted by Newton steps (Platt scaling, with Platt's smoothed
    targets so a few hundred points do not push the ends to 0 or 1)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = y * (n_pos + 1) / (n_pos + 2) + (1 - y) / (n_neg + 2)  # soft labels pass through
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * z + b, -30, 30)))
        w = p * (1 - p) + 1e-9
        g = np.array([((p - t) * z).sum(), (p - t).sum()])
        h = np.array([[(w * z * z).sum(), (w * z).sum()], [(w * z).sum(), w.sum()]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return float(a), float(b)
