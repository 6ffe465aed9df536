"""Training the two small models on SemEval-2016 Task 3 train-part2 (never on dev).

The related threads of the training file are imported into a thread store of their own (cached,
so a rerun does not encode them again) and every feature is computed by the same `CommunityQA`
code that answers users: the training rows are exactly what the models see at run time.

* Re-scorer: weights from one row per (new question, related thread), label = PerfectMatch or
  Relevant. Its probability is then calibrated (Platt scaling) the way the source is used: each
  training question asked over the whole training store, its retrieved candidates labelled
  relevant when they are among its gold threads, scored with out-of-fold weights (five folds
  grouped by new question), so the shown probability is fitted on data the weights never saw.
  The calibration set also holds questions no thread answers (SQuAD training questions, asked over
  the same store, every candidate labelled not relevant): SemEval's new questions all have
  related threads, so without them a question about something else entirely still got the
  probability of a typical SemEval top match (about 0.12 where the truth is near 0), and a router
  comparing sources' probabilities would take a forum thread over an unsure but right passage.
* Answer-quality model: one row per comment, label = Good for its own thread's question;
  calibrated on its own out-of-fold logits.
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
from cqa.text import tokenize
from qa.core.paths import SHARED_DATA, cache_dir
from qa.core.settings import Settings
from qa.core.types import Encoder

SEMEVAL_DIR = SHARED_DATA / "cqa" / "semeval2016_task3"
DEFAULT_TRAIN = SEMEVAL_DIR / "SemEval2016-Task3-CQA-QL-train-part2.xml.xz"
DEFAULT_DEV = SEMEVAL_DIR / "SemEval2016-Task3-CQA-QL-dev.xml.xz"
OFF_TOPIC_FILE = SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json.xz"
OFF_TOPIC_QUESTIONS = 300  # about as many as the training file's new questions (267)
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


def answer_rows(source: CommunityQA, questions: Sequence[NewQuestion], *, official_a: bool = False,
                exclude: frozenset[str] = frozenset()) -> AnswerRows:
    """Subtask A rows for every distinct related thread (with `official_a`, the threads the official
    scoring keeps: those not marked as repeating a training thread; `exclude`: also leave out the
    threads marked as repeating one of these thread ids)."""
    out = AnswerRows([], [], [])
    seen: set[str] = set()
    gi = 0
    for q in questions:
        for t in q.threads:
            if t.id in seen or (official_a and t.skip_subtask_a) or (t.skip_subtask_a in exclude):
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


def store_rows(source: CommunityQA, questions: Sequence[NewQuestion], *, first_group: int = 0) -> PairRows:
    """Each new question asked over the whole store, as the source asks: its retrieved candidates,
    labelled relevant when among the question's PerfectMatch / Relevant threads."""
    return _asked_rows(source, [(q.text, {f"semeval:{t.id}" for t in q.threads if t.relevant}) for q in questions],
                       first_group)


def off_topic_rows(source: CommunityQA, texts: Sequence[str], *, first_group: int) -> PairRows:
    """Questions the store cannot answer, asked over it: every retrieved candidate is a wrong match."""
    return _asked_rows(source, [(t, set()) for t in texts], first_group)


def off_topic_questions(n: int = OFF_TOPIC_QUESTIONS, path: str | Path = OFF_TOPIC_FILE, seed: int = 0) -> list[str]:
    """`n` SQuAD v1.0 training questions (a fixed sample): encyclopedic questions that no forum
    thread of an everyday-life board answers; an empty list when the file is absent."""
    import json
    import lzma
    import random

    try:
        with lzma.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)["data"]
    except (OSError, ValueError, KeyError):
        return []
    texts = sorted({qa["question"].strip() for art in data for para in art["paragraphs"] for qa in para["qas"]})
    random.Random(seed).shuffle(texts)
    return [t for t in texts if t][:n]


def _asked_rows(source: CommunityQA, items: Sequence[tuple[str, set[str]]], first_group: int) -> PairRows:
    out = PairRows([], [], [], [])
    for gi, (text, gold) in enumerate(items, start=first_group):
        vector = source.encoder.encode([text])[0]
        keys = source.candidates(text, vector, tokenize([text])[0], source.settings.cqa_candidates)
        found, feats = source.features(text, keys, vector=vector)
        for t, f in zip(found, feats, strict=True):
            out.rows.append(f)
            out.labels.append(t.uid in gold)
            out.groups.append(gi)
            out.thread_ids.append(t.uid)
    return out


def _folds(groups: Sequence[int], k: int = 5) -> list[np.ndarray]:
    ids = np.unique(np.asarray(groups))
    return [ids[i::k] for i in range(k)]


def fit_calibrated(features: list[str], rows: list[dict[str, float]], labels: Sequence[bool], groups: Sequence[int],
                   l2: float, meta: dict[str, Any], *, cal: PairRows | AnswerRows | None = None,
                   grouped: bool = False) -> LogisticModel:
    """Weights on all `rows`; Platt calibration on out-of-fold logits of `cal` (default: `rows`),
    folds grouped by question (`groups` of both index the same questions); `grouped`: with the
    best-candidate term (see `LogisticModel.logits`)."""
    cal_rows, cal_labels, cal_groups = (cal.rows, cal.labels, cal.groups) if cal is not None else (rows, labels, groups)
    model = LogisticModel(list(features), meta=dict(meta))
    x, y, g = model.matrix(rows), np.asarray(labels, dtype=float), np.asarray(groups)
    xc, yc, gc = model.matrix(cal_rows), np.asarray(cal_labels, dtype=float), np.asarray(cal_groups)
    oof = np.zeros(len(yc))
    oof_rows = np.zeros(len(y))  # for the cross-validated ranking quality on the training rows
    for ids in _folds(groups):
        part = LogisticModel(list(features)).fit(x[~np.isin(g, ids)], y[~np.isin(g, ids)], l2=l2)
        test = np.isin(gc, ids)
        oof[test] = part.raw_logits(xc[test])
        oof_rows[np.isin(g, ids)] = part.raw_logits(x[np.isin(g, ids)])
    cv = ranking_metrics([rank_by(oof_rows[g == q].tolist(), y[g == q].astype(bool).tolist()) for q in np.unique(g)])
    model.fit(x, y, l2=l2)
    unseen = ~np.isin(gc, g)  # calibration questions outside the training rows: the final weights never saw them
    if unseen.any():
        oof[unseen] = model.raw_logits(xc[unseen])
    top = [max(np.where(gc == q)[0], key=lambda i: oof[i]) for q in np.unique(gc)]
    best = np.zeros(len(yc), dtype=bool)
    best[top] = True
    a, b, c = model.fit_calibration(oof, yc, best if grouped else None)
    p = 1 / (1 + np.exp(-(a * oof + b + c * best)))
    model.meta.update({
        "rows": len(y), "positives": int(y.sum()), "l2": l2, "calibration_rows": len(yc),
        "oof_log_loss": round(float(-np.mean(yc * np.log(p + 1e-9) + (1 - yc) * np.log(1 - p + 1e-9))), 4),
        "oof_ece": round(ece(p.tolist(), yc.astype(bool).tolist()), 4),
        "oof_ece_top1": round(ece(p[top].tolist(), yc[top].astype(bool).tolist()), 4),
        "oof_accuracy_top1": round(float(yc[top].mean()), 4), "cv5_map": cv["map"], "cv5_mrr": cv["mrr"]})
    on_topic = [i for i in top if not unseen[i]]
    if unseen.any() and on_topic:
        model.meta.update({"calibration_questions_unanswerable": int(len(np.unique(gc[unseen]))),
                           "oof_ece_top1_answerable": round(ece(p[on_topic].tolist(),
                                                                yc[on_topic].astype(bool).tolist()), 4),
                           "mean_top1_unanswerable": round(float(np.mean([p[i] for i in top if unseen[i]])), 4)})
    return model


def train_models(path: Path, encoder: Encoder, *, progress: bool = False, out_dir: Path | None = None,
                 settings: Settings | None = None) -> str:
    """Train and save the re-scorer and the answer-quality model; returns a one-line summary."""
    source, questions = semeval_source(path, encoder, settings=settings)
    pairs = pair_rows(source, questions)
    asked = store_rows(source, questions)
    off = off_topic_rows(source, off_topic_questions(), first_group=len(questions))
    asked = PairRows(asked.rows + off.rows, asked.labels + off.labels, asked.groups + off.groups,
                     asked.thread_ids + off.thread_ids)
    meta = {"data": Path(path).name, "encoder": encoder.name}
    rescorer = fit_calibrated(MATCH_FEATURES, pairs.rows, pairs.labels, pairs.groups, MATCH_L2,
                              {**meta, "task": "P(thread answers the new question), SemEval-2016 subtask B labels"},
                              cal=asked, grouped=True)
    ans = answer_rows(source, questions)
    ranker = fit_calibrated(ANSWER_FEATURES, ans.rows, ans.labels, ans.groups, ANSWER_L2,
                            {**meta, "task": "P(answer is Good for its thread's question), SemEval-2016 subtask A"})
    out_rescorer = (out_dir / RESCORER.name) if out_dir else RESCORER
    out_ranker = (out_dir / ANSWER_RANKER.name) if out_dir else ANSWER_RANKER
    rescorer.save(out_rescorer)
    ranker.save(out_ranker)
    return (f"re-scorer on {len(pairs.rows)} pairs, calibrated on {len(asked.rows)} retrieved candidates "
            f"(out-of-fold ECE of the top match {rescorer.meta['oof_ece_top1']:.3f}) -> {out_rescorer}; "
            f"answer model on {len(ans.rows)} answers -> {out_ranker}")


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
