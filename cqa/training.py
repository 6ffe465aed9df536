"""Training the two small models on SemEval-2016 Task 3 train-part2 (never on dev).

The related threads of the training file are imported into a thread store of their own (cached,
so a rerun does not encode them again) and every feature is computed by the same `CommunityQA`
code that answers users: the training rows are exactly what the models see at run time.

* Re-scorer: one row per (new question, related thread), label = PerfectMatch or Relevant. Its
  temperature is fitted on out-of-fold logits (five folds grouped by new question), so the shown
  probability is calibrated on data the weights were not fitted on.
* Answer-quality model: one row per comment, label = Good for its own thread's question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cqa.features import ANSWER_FEATURES, MATCH_FEATURES
from cqa.matcher import ANSWER_RANKER, RESCORER, CommunityQA
from cqa.model import LogisticModel
from cqa.semeval import NewQuestion, load_semeval
from cqa.store import ThreadStore
from qa.core.paths import SHARED_DATA, cache_dir
from qa.core.settings import Settings
from qa.core.types import Encoder

SEMEVAL_DIR = SHARED_DATA / "cqa" / "semeval2016_task3"
DEFAULT_TRAIN = SEMEVAL_DIR / "SemEval2016-Task3-CQA-QL-train-part2.xml.xz"
DEFAULT_DEV = SEMEVAL_DIR / "SemEval2016-Task3-CQA-QL-dev.xml.xz"
MATCH_L2 = 3.0
ANSWER_L2 = 3.0


def semeval_store_path(path: str | Path) -> Path:
    name = Path(path).name.split(".xml")[0]
    return cache_dir() / "cqa" / "semeval" / f"{name}.sqlite"


def semeval_source(path: str | Path, encoder: Encoder, *, settings: Settings | None = None,
                   store: str | Path | None = None, span_reader: Any = None,
                   rescorer: LogisticModel | None = None, answer_ranker: LogisticModel | None = None,
                   ) -> tuple[CommunityQA, list[NewQuestion]]:
    """A community-QA source whose store holds the related threads of a SemEval file (imported once,
    idempotently, into a cached store), and the file's new questions with their gold labels."""
    from cqa.importers import import_semeval

    questions = load_semeval(path)
    target = ThreadStore(store or semeval_store_path(path))
    if target.count() == 0:
        import_semeval(target, path)
    source = CommunityQA(settings or Settings.load(), store=target, encoder=encoder, span_reader=span_reader,
                         rescorer=rescorer, answer_ranker=answer_ranker, seed=False)
    source.refresh()
    return source, questions


@dataclass
class PairRows:
    """Subtask B rows: one per (new question, related thread) in file order, grouped by question."""

    rows: list[dict[str, float]]
    labels: list[bool]
    groups: list[int]  # index of the new question of each row
    thread_ids: list[str]


def pair_rows(source: CommunityQA, questions: Sequence[NewQuestion]) -> PairRows:
    out = PairRows([], [], [], [])
    for gi, q in enumerate(questions):
        keys = [source.store.key_of(f"semeval:{t.id}") for t in q.threads]
        found, feats = source.features(q.text, keys)
        by_uid = {t.uid: f for t, f in zip(found, feats, strict=True)}
        for t in q.threads:
            out.rows.append(by_uid[f"semeval:{t.id}"])
            out.labels.append(t.relevant)
            out.groups.append(gi)
            out.thread_ids.append(t.id)
    return out


@dataclass
class AnswerRows:
    rows: list[dict[str, float]]
    labels: list[bool]
    groups: list[int]  # index of the thread of each row


def answer_rows(source: CommunityQA, questions: Sequence[NewQuestion], *, official_a: bool = False) -> AnswerRows:
    """Subtask A rows for every distinct related thread (with `official_a`, the threads the official
    scoring keeps: those not marked as repeating a training thread)."""
    out = AnswerRows([], [], [])
    seen: set[str] = set()
    gi = 0
    for q in questions:
        for t in q.threads:
            if t.id in seen or (official_a and t.skip_subtask_a):
                continue
            seen.add(t.id)
            key = source.store.key_of(f"semeval:{t.id}")
            thread = source.store.get([key])[key]
            labels = {c.id: c.good for c in t.comments}
            feats = source.answer_features(thread)
            for a, f in zip(thread.answers, feats, strict=True):
                out.rows.append(f)
                out.labels.append(labels.get(a.id, False))
                out.groups.append(gi)
            gi += 1
    return out


def _folds(groups: Sequence[int], k: int = 5) -> list[np.ndarray]:
    g = np.asarray(groups)
    ids = np.unique(g)
    return [np.isin(g, ids[i::k]) for i in range(k)]


def fit_with_temperature(features: list[str], rows: list[dict[str, float]], labels: Sequence[bool],
                         groups: Sequence[int], l2: float, meta: dict[str, Any]) -> LogisticModel:
    """Weights on all rows; temperature from out-of-fold logits (folds grouped by question)."""
    model = LogisticModel(list(features), meta=dict(meta))
    x = model.matrix(rows)
    y = np.asarray(labels, dtype=float)
    oof = np.zeros(len(y))
    for test in _folds(groups):
        part = LogisticModel(list(features)).fit(x[~test], y[~test], l2=l2)
        oof[test] = part.logits(x[test])
    model.fit(x, y, l2=l2)
    model.fit_temperature(oof, y)
    p = 1 / (1 + np.exp(-oof / model.temperature))
    loss = float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
    model.meta.update({"rows": len(y), "positives": int(y.sum()), "l2": l2, "oof_log_loss": round(loss, 4)})
    return model


def train_models(path: Path, encoder: Encoder, *, progress: bool = False, out_dir: Path | None = None,
                 settings: Settings | None = None) -> str:
    """Train and save the re-scorer and the answer-quality model; returns a one-line summary."""
    source, questions = semeval_source(path, encoder, settings=settings)
    pairs = pair_rows(source, questions)
    meta = {"data": Path(path).name, "encoder": encoder.name}
    rescorer = fit_with_temperature(MATCH_FEATURES, pairs.rows, pairs.labels, pairs.groups, MATCH_L2,
                                    {**meta, "task": "P(related thread answers the new question), SemEval-2016 B"})
    ans = answer_rows(source, questions)
    ranker = fit_with_temperature(ANSWER_FEATURES, ans.rows, ans.labels, ans.groups, ANSWER_L2,
                                  {**meta, "task": "P(answer is Good for its thread's question), SemEval-2016 A"})
    out_rescorer = (out_dir / RESCORER.name) if out_dir else RESCORER
    out_ranker = (out_dir / ANSWER_RANKER.name) if out_dir else ANSWER_RANKER
    rescorer.save(out_rescorer)
    ranker.save(out_ranker)
    return (f"re-scorer on {len(pairs.rows)} pairs (T={rescorer.temperature:.2f}) -> {out_rescorer}; answer model on "
            f"{len(ans.rows)} answers (T={ranker.temperature:.2f}) -> {out_ranker}")


def average_precision(labels: Sequence[bool], cutoff: int = 10) -> float:
    """SemEval's AP: mean of precision at each relevant rank within the cutoff; 0 without any."""
    hits, precisions = 0, []
    for i, rel in enumerate(labels[:cutoff], start=1):
        if rel:
            hits += 1
            precisions.append(hits / i)
    return sum(precisions) / len(precisions) if precisions else 0.0


def ranking_metrics(groups: Sequence[Sequence[bool]], cutoff: int = 10) -> dict[str, float]:
    """MAP, MRR and P@1 (percent) as the official SemEval-2016 scorer computes them: every question
    counts, one without a relevant item scores 0."""
    aps, rrs, p1 = [], [], []
    for labels in groups:
        aps.append(average_precision(labels, cutoff))
        rr = next((1.0 / i for i, rel in enumerate(labels[:cutoff], start=1) if rel), 0.0)
        rrs.append(rr)
        p1.append(1.0 if labels and labels[0] else 0.0)
    n = max(len(aps), 1)
    return {"map": round(100 * sum(aps) / n, 2), "mrr": round(100 * sum(rrs) / n, 2),
            "p@1": round(100 * sum(p1) / n, 2)}


def rank_by(scores: Sequence[float], labels: Sequence[bool]) -> list[bool]:
    """Labels ordered by descending score (ties keep the given order, like the official scorer)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return [labels[i] for i in order]


def ece(probs: Sequence[float], correct: Sequence[bool], bins: int = 15) -> float:
    """Expected calibration error over equal-width bins."""
    p = np.asarray(probs, dtype=float)
    y = np.asarray(correct, dtype=float)
    if not len(p):
        return 0.0
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.sum() / len(p) * abs(p[sel].mean() - y[sel].mean())
    return float(total)


def auroc(probs: Sequence[float], correct: Sequence[bool]) -> float:
    """Probability that a right answer is scored above a wrong one (ties count half)."""
    pos = [p for p, c in zip(probs, correct, strict=True) if c]
    neg = [p for p, c in zip(probs, correct, strict=True) if not c]
    if not pos or not neg:
        return math.nan
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return float(wins / (len(pos) * len(neg)))
