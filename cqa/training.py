"""Training the three small models on SemEval-2016 Task 3 train-part2 (never on dev).

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
  probability of a typical SemEval top match (0.15 on average where the truth is near 0), and a router
  comparing sources' probabilities would take a forum thread over an unsure but right passage.
* Answer-quality model: one row per comment, label = Good for its own thread's question;
  calibrated on its own out-of-fold logits. Its cross-validation folds hold out whole new
  questions and drop from training every thread that shares text with a held-out one: the file
  repeats threads (87 of the 670 related questions appear twice or more, under other ids, and
  whole comments recur), so folds by thread id alone let a model be tested on comments it was
  trained on (about a fifth of a held-out fold's comments, verbatim).
* Answer-wording model: a logistic model over an answer's sentence vector alone (label Good),
  whose out-of-fold score is one of the answer model's features.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cqa import TrainedModels
from cqa.features import ANSWER_FEATURES, MATCH_FEATURES
from cqa.matcher import ANSWER_RANKER, ANSWER_STACK, ANSWER_WORDING, RESCORER, CommunityQA
from cqa.model import LogisticModel
from cqa.semeval import NewQuestion, RelatedThread, load_semeval
from cqa.store import ThreadStore
from cqa.text import tokenize
from qa.core.measures import ece
from qa.core.paths import SHARED_DATA, cache_dir
from qa.core.settings import Settings
from qa.core.types import Encoder, PairJudging, SpanReading

SEMEVAL_DIR = SHARED_DATA / "cqa" / "semeval2016_task3"
DEFAULT_TRAIN = SEMEVAL_DIR / "SemEval2016-Task3-CQA-QL-train-part2.xml.xz"
DEFAULT_DEV = SEMEVAL_DIR / "SemEval2016-Task3-CQA-QL-dev.xml.xz"
OFF_TOPIC_FILE = SHARED_DATA / "mrc" / "squad-v1.0-train.from-explorer.json.xz"
OFF_TOPIC_QUESTIONS = 300  # beside the training file's 67 new questions (Q201-Q267): see data/cqa/README.md
MATCH_L2 = 3.0
ANSWER_L2 = 3.0
WORDING_L2 = 300.0  # 384 weights from 6,700 answers: strongly shrunk
STACK_L2 = 1.0
JUDGE_HELD_FOLD = 0  # the fold of `answer_splits` the judge's stack is fitted on


def semeval_store_path(path: str | Path) -> Path:
    """The cached store of a SemEval file, by its name and its content: another file of the same
    name, or an edited one, was trained on with the threads of the first."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    name = Path(path).name.split(".xml")[0]
    return cache_dir() / "cqa" / "semeval" / f"{name}-{digest.hexdigest()[:12]}.sqlite"


def semeval_source(path: str | Path, encoder: Encoder, *, settings: Settings | None = None,
                   store: str | Path | None = None, span_reader: Any = None,
                   rescorer: LogisticModel | None = None, answer_ranker: LogisticModel | None = None,
                   answer_wording: LogisticModel | None = None, judge: PairJudging | None = None,
                   question_judge: PairJudging | None = None) -> tuple[CommunityQA, list[NewQuestion]]:
    """A community-QA source whose store holds the related threads of a SemEval file (imported once,
    idempotently, into a cached store), and the file's new questions with their gold labels."""
    from cqa.importers import import_semeval

    questions = load_semeval(path)
    target = ThreadStore(store or semeval_store_path(path))
    if target.count() == 0:
        import_semeval(target, path)
    source = CommunityQA(settings or Settings.load(), store=target, encoder=encoder, span_reader=span_reader,
                         rescorer=rescorer, answer_ranker=answer_ranker, answer_wording=answer_wording, judge=judge,
                         question_judge=question_judge, seed=False)
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
    questions: list[int] = field(default_factory=list)  # per thread: index of the new question it came with
    contents: list[int] = field(default_factory=list)  # per thread: its content component (see content_components)
    vectors: list[np.ndarray] = field(default_factory=list)  # per row: the answer's sentence vector
    keys: list[int] = field(default_factory=list)  # per thread: its store key
    pairs: list[tuple[str, str]] = field(default_factory=list)  # per row: (its thread's question, the answer)
    texts: list[tuple[str, str, list[str]]] = field(default_factory=list)  # per thread: title, body, answers


def answer_rows(source: CommunityQA, questions: Sequence[NewQuestion], *, official_a: bool = False,
                exclude: frozenset[str] = frozenset(), only: frozenset[str] | None = None) -> AnswerRows:
    """Subtask A rows for every distinct related thread (with `official_a`, the threads the official
    scoring keeps: those not marked as repeating a training thread; `exclude`: also leave out the
    threads marked as repeating one of these thread ids; `only`: just these thread ids)."""
    out = AnswerRows([], [], [])
    seen: set[str] = set()
    gi = 0
    texts: list[tuple[str, str, list[str]]] = []
    for qi, q in enumerate(questions):
        for t in q.threads:
            if (t.id in seen or (official_a and t.skip_subtask_a) or (t.skip_subtask_a in exclude)
                    or (only is not None and t.id not in only)):
                continue
            seen.add(t.id)
            key = source.store.key_of(f"semeval:{t.id}")
            thread = source.store.get([key])[key]
            labels = {c.id: c.good for c in t.comments}
            vectors = source.answer_vectors(thread)
            feats = source.answer_features(thread, vectors)
            out.vectors.extend(vectors)
            for a, f in zip(thread.answers, feats, strict=True):
                out.rows.append(f)
                out.pairs.append((thread.text, a.text))
                out.labels.append(labels.get(a.id, False))
                out.groups.append(gi)
            out.questions.append(qi)
            out.keys.append(key)
            texts.append((thread.title, thread.body, [a.text for a in thread.answers]))
            gi += 1
    out.contents = content_components(texts)
    out.texts = texts
    return out


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def content_components(threads: Sequence[tuple[str, str, Sequence[str]]]) -> list[int]:
    """Component id of each (title, body, answers) thread: threads sharing a title, the opening of a
    body or of an answer (normalised: lower case, letters and digits only) are linked, transitively.
    Forum dumps repeat threads under new ids and users paste the same answer into several threads."""
    parent = list(range(len(threads)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, (title, body, answers) in enumerate(threads):
        keys = [("t", _NON_ALNUM.sub("", title.lower()))]
        b = _NON_ALNUM.sub("", body.lower())
        if len(b) >= 40:
            keys.append(("b", b[:80]))
        for a in answers:
            n = _NON_ALNUM.sub("", a.lower())
            if len(n) >= 25:
                keys.append(("a", n[:60]))
        for k in keys:
            if not k[1]:
                continue
            if k in first:
                parent[find(i)] = find(first[k])
            else:
                first[k] = i
    return [find(i) for i in range(len(threads))]


def answer_splits(ans: AnswerRows, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """(held-out rows, training rows) of each fold: whole new questions held out, and every thread
    sharing a content component with a held-out thread left out of training."""
    g = np.asarray(ans.groups)
    qs = np.unique(ans.questions)
    out = []
    for f in range(k):
        held_q = set(qs[f::k].tolist())
        held_t = np.array([ans.questions[t] in held_q for t in range(len(ans.questions))])
        held_c = {ans.contents[t] for t in np.where(held_t)[0]}
        near = np.array([c in held_c for c in ans.contents])
        out.append((held_t[g], ~near[g]))
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
        # one question per call, as the source encodes a user's question (the int8 encoder scales
        # activations per batch, so a batch would give slightly other vectors than run time sees)
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
                   grouped: bool = False, splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
                   ) -> LogisticModel:
    """Weights on all `rows`; Platt calibration on out-of-fold logits of `cal` (default: `rows`),
    folds grouped by question (`groups` of both index the same questions); `grouped`: with the
    best-candidate term (see `LogisticModel.logits`). `splits` (without `cal`): explicit
    (held-out, training) row masks instead of the folds by group."""
    cal_rows, cal_labels, cal_groups = (cal.rows, cal.labels, cal.groups) if cal is not None else (rows, labels, groups)
    model = LogisticModel(list(features), meta=dict(meta))
    x, y, g = model.matrix(rows), np.asarray(labels, dtype=float), np.asarray(groups)
    xc, yc, gc = model.matrix(cal_rows), np.asarray(cal_labels, dtype=float), np.asarray(cal_groups)
    oof = np.zeros(len(yc))
    oof_rows = np.zeros(len(y))  # for the cross-validated ranking quality on the training rows
    if splits is not None:
        if cal is not None:
            raise ValueError("explicit splits index the training rows; they cannot calibrate on other rows")
        for held, train in splits:
            part = LogisticModel(list(features)).fit(x[train], y[train], l2=l2)
            oof[held] = oof_rows[held] = part.raw_logits(x[held])
    for ids in _folds(groups) if splits is None else []:
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


def fit_wording(ans: AnswerRows, meta: dict[str, Any]) -> tuple[LogisticModel, np.ndarray]:
    """The answer-wording model (a logistic model over an answer's sentence vector, label Good) on all
    rows, and its out-of-fold logits on them (the `wording` feature the answer model is trained on:
    in-sample logits would make it look far more reliable than it is on new threads)."""
    x = np.asarray(np.stack(ans.vectors), dtype=np.float64)
    y = np.asarray(ans.labels, dtype=np.float64)
    names = [f"v{i}" for i in range(x.shape[1])]
    oof = np.zeros(len(y))
    for held, train in answer_splits(ans):
        oof[held] = LogisticModel(names).fit(x[train], y[train], l2=WORDING_L2).raw_logits(x[held])
    g = np.asarray(ans.groups)
    cv = ranking_metrics([rank_by(oof[g == t].tolist(), y[g == t].astype(bool).tolist()) for t in np.unique(g)])
    model = LogisticModel(names, meta={**meta, "task": "P(answer is Good) from its sentence vector alone",
                                       "rows": len(y), "l2": WORDING_L2, "oof_mean": round(float(oof.mean()), 4),
                                       "cv5_map": cv["map"], "cv5_mrr": cv["mrr"]})
    return model.fit(x, y, l2=WORDING_L2), oof


def train_models(path: Path, encoder: Encoder, *, span_reader: SpanReading | None = None, progress: bool = False,
                 out_dir: Path | None = None, settings: Settings | None = None,
                 models: TrainedModels = TrainedModels.ALL) -> str:
    """Train and save the re-scorer, the answer-quality model and the answer-wording model (or the
    part `models` names; the others' files are left as they are); returns a one-line summary.
    `span_reader`: the reader whose margins the answer model's `read` feature is (the one the engine
    gives the source); without one that feature is constant and learns nothing."""
    models = TrainedModels(models)  # "answer" from Python is an error, not a run that trains nothing
    with _steps(progress) as step:
        # the `wording` feature of the training rows is filled with out-of-fold scores below, never
        # with a shipped model's (an empty model stands in while the rows are built)
        step("building the training store (imported and embedded once)")
        source, questions = semeval_source(path, encoder, settings=settings, answer_wording=LogisticModel([]),
                                           span_reader=span_reader)
        meta = {"data": Path(path).name, "encoder": encoder.name}
        said = []
        fitted: list[tuple[LogisticModel, Path]] = []  # saved together at the end: Ctrl-C leaves no mixed set
        if models in (TrainedModels.ALL, TrainedModels.RESCORER):
            step(f"re-scorer: features of {len(questions)} new questions' related threads")
            pairs = pair_rows(source, questions)
            step("re-scorer: asking each training question over the store (and the off-topic ones)")
            asked = store_rows(source, questions)
            off = off_topic_rows(source, off_topic_questions(), first_group=len(questions))
            asked = PairRows(asked.rows + off.rows, asked.labels + off.labels, asked.groups + off.groups,
                             asked.thread_ids + off.thread_ids)
            step(f"re-scorer: fitting on {len(pairs.rows):,} pairs, calibrating on {len(asked.rows):,} candidates")
            task = "P(thread answers the new question), SemEval-2016 subtask B labels"
            rescorer = fit_calibrated(MATCH_FEATURES, pairs.rows, pairs.labels, pairs.groups, MATCH_L2,
                                      {**meta, "task": task}, cal=asked, grouped=True)
            out_rescorer = (out_dir / RESCORER.name) if out_dir else RESCORER
            fitted.append((rescorer, out_rescorer))
            said.append(f"re-scorer on {len(pairs.rows)} pairs, calibrated on {len(asked.rows)} retrieved candidates "
                        f"(out-of-fold ECE of the top match {rescorer.meta['oof_ece_top1']:.3f}) -> {out_rescorer}")
        if models in (TrainedModels.ALL, TrainedModels.ANSWERS):
            step("answer model: features of every answer (the span reader reads each)")
            ans = answer_rows(source, questions)
            step(f"answer model: fitting on {len(ans.rows):,} answers (five folds)")
            wording, oof = fit_wording(ans, meta)
            for row, w in zip(ans.rows, oof, strict=True):
                row["wording"] = float(w)
            task = "P(answer is Good for its thread's question), SemEval-2016 subtask A"
            ranker = fit_calibrated(ANSWER_FEATURES, ans.rows, ans.labels, ans.groups, ANSWER_L2,
                                    {**meta, "task": task,
                                     "cv": "5 folds of whole new questions; threads sharing text with a held-out one "
                                           "left out of training"},
                                    splits=answer_splits(ans))
            out_ranker = (out_dir / ANSWER_RANKER.name) if out_dir else ANSWER_RANKER
            out_wording = (out_dir / ANSWER_WORDING.name) if out_dir else ANSWER_WORDING
            fitted += [(wording, out_wording), (ranker, out_ranker)]
            said.append(f"answer model on {len(ans.rows)} answers (cross-validated MAP "
                        f"{ranker.meta['cv5_map']:.2f}) -> {out_ranker}, wording model -> {out_wording}")
        for model, target in fitted:  # each file atomically, one after another: seconds, after the minutes above
            model.save(target)
        return "; ".join(said)


@contextlib.contextmanager
def _steps(progress: bool) -> Iterator[Callable[[str], None]]:
    """Says what the training does now (minutes of silence otherwise), on standard error."""
    if not progress:
        yield lambda _what: None
        return
    from rich.console import Console

    with Console(stderr=True).status("starting …") as status:
        yield lambda what: status.update(what + " …")


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


def judge_rows(path: str | Path, encoder: Encoder, *, settings: Settings | None = None) -> AnswerRows:
    """Subtask A rows of a training file for the answer judge and its stack: (question, answer)
    pairs with labels, and the answer model's features as the source computes them when a judge is
    at hand (no span-reader margin: the judge reads the pair instead), `wording` out-of-fold."""
    source, questions = semeval_source(path, encoder, settings=settings, answer_wording=LogisticModel([]))
    ans = answer_rows(source, questions)
    _, oof = fit_wording(ans, {})
    for row, w in zip(ans.rows, oof, strict=True):
        row["wording"] = float(w)
    return ans


@dataclass
class ExtraPairs:
    pairs: list[tuple[str, str]]
    labels: list[bool]
    threads: int  # threads kept
    dropped: int  # threads left out for sharing text with a thread the judge must not have seen


def extra_judge_pairs(threads: Sequence[RelatedThread], avoid: Sequence[tuple[str, str, Sequence[str]]]
                      ) -> ExtraPairs:
    """(question, comment) pairs with Good labels from other labelled threads (`load_labelled_comments`:
    SemEval-2015 files, other SemEval-2016 parts): more reading for the judge alone (the answer
    model's features need a thread store's authors and vectors). A thread sharing a title, a body's
    opening or a comment with one of `avoid` (the held-out questions' threads, on which the
    combination is fitted, and the dev file's, on which it is measured) is left out: those files
    repeat some dev threads. A pair met twice is read once."""
    comps = content_components([*avoid, *((t.subject, t.body, [c.text for c in t.comments]) for t in threads)])
    banned = set(comps[:len(avoid)])
    out = ExtraPairs([], [], 0, 0)
    seen: set[tuple[str, str]] = set()
    for t, comp in zip(threads, comps[len(avoid):], strict=True):
        if comp in banned:
            out.dropped += 1
            continue
        out.threads += 1
        for c in t.comments:
            pair = (t.text, c.text)
            if c.text and pair not in seen:
                seen.add(pair)
                out.pairs.append(pair)
                out.labels.append(c.good)
    return out


def dev_threads(path: str | Path = DEFAULT_DEV) -> list[tuple[str, str, list[str]]]:
    """(title, body, comments) of every related thread of the SemEval dev file, when it is there."""
    if not Path(path).exists():
        return []
    return [(t.subject, t.body, [c.text for c in t.comments]) for q in load_semeval(path) for t in q.threads]


def judge_split(ans: AnswerRows) -> tuple[np.ndarray, np.ndarray]:
    """(held-out rows, training rows): the judge trained on the second scores the first, and the
    stack is fitted on those scores (one fold of `answer_splits`: whole new questions held out)."""
    return answer_splits(ans)[JUDGE_HELD_FOLD]


def fit_judge_stack(ans: AnswerRows, held: np.ndarray, train: np.ndarray, judge_held: Sequence[float],
                    meta: dict[str, Any]) -> LogisticModel:
    """P(answer is Good) from two logits: the answer model's (fitted on the training rows, its raw
    logit on the held-out rows) and the judge's (trained on the training rows, scoring the held-out
    ones). Both are out-of-sample here, as they are for a user's thread; the fit says how much each
    deserves and calibrates their sum."""
    x, y = np.asarray(LogisticModel(ANSWER_FEATURES).matrix(ans.rows)), np.asarray(ans.labels, dtype=float)
    answer_model = LogisticModel(ANSWER_FEATURES).fit(x[train], y[train], l2=ANSWER_L2)
    z = np.stack([answer_model.raw_logits(x[held]), np.asarray(judge_held, dtype=float)], axis=1)
    stack = LogisticModel(["answer", "judge"], meta={**meta, "task": "P(answer is Good) from the answer model's "
                                                     "and the judge's logits", "rows": int(held.sum()),
                                                     "l2": STACK_L2}).fit(z, y[held], l2=STACK_L2)
    g = np.asarray(ans.groups)[held]
    zs, yh = stack.raw_logits(z), y[held].astype(bool)
    for name, scores in (("map_answer_model", z[:, 0]), ("map_judge", z[:, 1]), ("map_stack", zs)):
        stack.meta[name] = ranking_metrics([rank_by(scores[g == t].tolist(), yh[g == t].tolist())
                                            for t in np.unique(g)])["map"]
    stack.meta["ece"] = round(ece((1 / (1 + np.exp(-zs))).tolist(), yh.tolist()), 4)
    return stack


def save_judge_stack(stack: LogisticModel, out: Path | None = None) -> Path:
    path = out or ANSWER_STACK
    stack.save(path)
    return path
