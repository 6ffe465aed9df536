"""Reader metrics, faithful to the official scripts so our numbers compare with published ones.

* SQuAD v1.1 (`evaluate-v1.1.py`): EM / F1 after `normalize_answer`, max over the gold answers,
  a question without a prediction scores 0 and still counts in the total.
* SQuAD v2.0 (`evaluate-v2.0.py`): `exact` / `f1`, split into HasAns / NoAns, an empty prediction
  means "no answer", an unanswerable question's only gold answer is "" and F1 is 1 only when
  both sides are empty; `na_probs` give the best-threshold figures (`best_exact`, `best_f1` and
  their thresholds) exactly as the official script computes them.
* RACE: accuracy per level (middle, high) and over all questions.

All figures are percentages (0-100), as in the official output.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra white space (official order)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


# ---------------------------------------------------------------- SQuAD v1.1
def exact_match_v1(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_v1(prediction: str, gold: str) -> float:
    """v1.1 F1: an empty side gives 0 (the v1.1 script has no special case for empties)."""
    pred, ref = _tokens(prediction), _tokens(gold)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def _best(metric: Callable[[str, str], float], prediction: str, golds: Sequence[str]) -> float:
    return max((metric(prediction, g) for g in golds), default=0.0)


def squad_em(prediction: str, golds: Sequence[str]) -> float:
    """v1.1 exact match of one prediction, max over its gold answers (0 or 1)."""
    return _best(exact_match_v1, prediction, golds)


def squad_f1(prediction: str, golds: Sequence[str]) -> float:
    """v1.1 F1 of one prediction, max over its gold answers (0..1)."""
    return _best(f1_v1, prediction, golds)


def _questions(dataset: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for article in dataset:
        for paragraph in article["paragraphs"]:
            yield from paragraph["qas"]


def squad_v1_evaluate(
    dataset: Sequence[Mapping[str, Any]], predictions: Mapping[str, str]
) -> dict[str, float]:
    """`dataset` is the file's `data` list; returns {"exact_match", "f1", "total", "missing"}."""
    em = f1 = 0.0
    total = missing = 0
    for qa in _questions(dataset):
        total += 1
        if qa["id"] not in predictions:
            missing += 1
            continue
        golds = [a["text"] for a in qa["answers"]]
        em += squad_em(predictions[qa["id"]], golds)
        f1 += squad_f1(predictions[qa["id"]], golds)
    return {
        "exact_match": 100.0 * em / total if total else 0.0,
        "f1": 100.0 * f1 / total if total else 0.0,
        "total": total,
        "missing": missing,
    }


# ---------------------------------------------------------------- SQuAD v2.0
def exact_v2(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def f1_v2(gold: str, prediction: str) -> float:
    """v2.0 F1: if either side is empty, 1 when both are empty, else 0."""
    ref, pred = _tokens(gold), _tokens(prediction)
    if not ref or not pred:
        return float(ref == pred)
    same = sum((Counter(ref) & Counter(pred)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def _v2_raw_scores(
    dataset: Sequence[Mapping[str, Any]], preds: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    for qa in _questions(dataset):
        golds = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])] or [""]
        if qa["id"] not in preds:
            continue  # the official script skips (and prints) missing predictions here
        pred = preds[qa["id"]]
        exact[qa["id"]] = max(exact_v2(g, pred) for g in golds)
        f1[qa["id"]] = max(f1_v2(g, pred) for g in golds)
    return exact, f1


def _apply_threshold(
    scores: Mapping[str, float], na_probs: Mapping[str, float], has_ans: Mapping[str, bool], thresh: float
) -> dict[str, float]:
    return {qid: (float(not has_ans[qid]) if na_probs[qid] > thresh else s) for qid, s in scores.items()}


def _mean(scores: Mapping[str, float], qids: Sequence[str] | None = None) -> tuple[float, int]:
    keys = list(scores) if not qids else list(qids)
    total = len(keys)
    return (100.0 * sum(scores[k] for k in keys) / total if total else 0.0), total


def _best_thresh(
    preds: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """The official sweep: start from "answer nothing", then admit questions by rising na_prob."""
    cur: float = sum(1 for k in has_ans if not has_ans[k])
    best = cur
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1 if preds[qid] else 0
        cur += diff
        if cur > best:
            best, best_thresh = cur, na_probs[qid]
    return (100.0 * best / len(scores) if scores else 0.0), best_thresh


def squad_v2_evaluate(
    dataset: Sequence[Mapping[str, Any]],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float]:
    """The official v2.0 evaluation dict: exact, f1, total, HasAns_*, NoAns_* and, when
    `na_probs` is given, best_exact(_thresh) and best_f1(_thresh)."""
    probs = dict(na_probs) if na_probs is not None else {k: 0.0 for k in preds}
    has_ans = {qa["id"]: bool(qa["answers"]) for qa in _questions(dataset)}
    exact_raw, f1_raw = _v2_raw_scores(dataset, preds)
    exact = _apply_threshold(exact_raw, probs, has_ans, na_prob_thresh)
    f1 = _apply_threshold(f1_raw, probs, has_ans, na_prob_thresh)
    out: dict[str, float] = {}
    out["exact"], out["total"] = _mean(exact)
    out["f1"], _ = _mean(f1)
    for name, want in (("HasAns", True), ("NoAns", False)):
        qids = [k for k, v in has_ans.items() if v is want]
        if qids:
            out[f"{name}_exact"], out[f"{name}_total"] = _mean(exact, qids)
            out[f"{name}_f1"], _ = _mean(f1, qids)
    if na_probs is not None:
        out["best_exact"], out["best_exact_thresh"] = _best_thresh(preds, exact_raw, probs, has_ans)
        out["best_f1"], out["best_f1_thresh"] = _best_thresh(preds, f1_raw, probs, has_ans)
    return out


# ---------------------------------------------------------------- RACE
def race_accuracy(
    predictions: Mapping[str, int], golds: Mapping[str, int], levels: Mapping[str, str]
) -> dict[str, float | None]:
    """Accuracy (0-100) per level and over all; keys `middle`, `high`, `all` (+ `*_total`); None for
    a level no question has (a slice of one level is not 0 % right on the other).

    A question without a prediction counts as wrong, as a leaderboard would count it."""
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for qid, gold in golds.items():
        ok = int(predictions.get(qid, -1) == gold)
        for group in ("all", levels.get(qid, "")):
            if group:
                hits[group] += ok
                totals[group] += 1
    out: dict[str, float | None] = {}
    for group in ("middle", "high", "all"):
        out[group] = 100.0 * hits[group] / totals[group] if totals[group] else None  # none asked: no figure
        out[f"{group}_total"] = totals[group]
    return out
