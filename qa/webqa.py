"""WebQA, the passage source: question -> hybrid retrieval over the collections -> span reader ->
merged, calibrated answers with their evidence.

Why it is built this way:

* The reader's own score says "this span is an answer of this passage"; whether it is *the right
  answer* also depends on retrieval (was the passage relevant), on agreement (how many passages
  give the same answer) and on how much of the reader's probability mass the answer holds. A small
  logistic model over those signals (`qa.calibration.AnswerCalibrator`, fitted on SQuAD training
  articles the reader never saw) turns them into the probability that the answer is right, and
  answers are ranked by that probability: the score shown is the order used.
* The same answer read from several passages, or nested spans of one passage ("Jane Austen" /
  "Austen" / "author Jane Austen"), is one answer: near duplicates merge into the best-scored one,
  whose evidence lists the other passages once each.
* "No answer" is explicit and still shows the best guess with its passage, marked as a guess.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.calibration import AnswerCalibrator, named_nowhere, span_features, terms
from qa.core.errors import InputError
from qa.core.settings import Settings
from qa.core.types import Answer, Encoder, Question, Route, SpanEvidence

if TYPE_CHECKING:
    from mrc.span import SpanReader
    from retrieval.collections import CollectionSet
    from retrieval.passage import RetrievedPassage

log = logging.getLogger(__name__)

@dataclass
class _Group:
    """One merged answer: its best span and everything that supports it."""

    best: Answer
    members: list[Answer] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)
    norm: str = ""


class WebQA:
    """The passage answer source; collections, reader and calibrator load lazily, once."""

    name = Route.WEBQA

    def __init__(self, settings: Settings | None = None, *, index_dir: str | Path | None = None,
                 collections: CollectionSet | None = None, reader: SpanReader | None = None,
                 encoder: Encoder | None = None, calibrator: AnswerCalibrator | None = None) -> None:
        self.settings = settings or Settings.load()
        self._index_dir = Path(index_dir) if index_dir else None
        self._collections = collections
        self._given_collections = collections is not None
        self._reader = reader
        self._encoder = encoder
        self._calibrator = calibrator
        self._loading = threading.RLock()

    # ------------------------------------------------------------------ components
    @property
    def collections(self) -> CollectionSet:
        if self._collections is not None:
            return self._collections
        with self._loading:  # the API's first requests may race its warm-up: open them once
            if self._collections is None:
                self._collections = self._open_collections()
        return self._collections

    def _open_collections(self) -> CollectionSet:
        from retrieval.collections import Collection, CollectionSet, discover
        from retrieval.default import default_index

        if self._index_dir is not None:
            if not self._index_dir.is_dir():
                raise InputError(f"index folder not found: {self._index_dir} "
                                 "(build one with `qa index PATH --out DIR`)")
            found = [Collection(self._index_dir.name or "index", self._index_dir)]
        else:
            found = discover(self.settings, default_index(self.settings) if self.settings.include_default
                             else None)
        return CollectionSet(found, self.settings, encoder=self.encoder)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            from qa.models import shared_encoder

            self._encoder = shared_encoder(self.settings)  # one per settings, made under its own lock
        return self._encoder

    @property
    def reader(self) -> SpanReader:
        if self._reader is None:
            from qa.models import shared_span_reader

            self._reader = shared_span_reader(self.settings)
        return self._reader

    @property
    def calibrator(self) -> AnswerCalibrator:
        if self._calibrator is None:
            with self._loading:
                if self._calibrator is None:
                    cal = AnswerCalibrator.load_default(self.settings)
                    unlike = cal.fitted_otherwise(self.settings)
                    if unlike:
                        log.warning("the passages' answer probabilities were fitted with %s: with other values their "
                                    "scores are not probabilities (refit: qa train calibrate-webqa)", unlike)
                    self._calibrator = cal
        return self._calibrator

    def close(self) -> None:
        """Close the collections' stores and let go of their index files (memory-mapped); a later
        question opens them again. `Engine.close()` left them open: the README says it closes what
        the engine opened."""
        if self._given_collections:  # the caller's to close
            return
        with self._loading:
            opened, self._collections = self._collections, None
        if opened is not None:
            opened.close()

    def warm_up(self) -> None:
        self.collections.warm_up()
        _ = self.reader.model, self.reader.tokenizer
        self.encoder.encode(["warm up"])
        _ = self.calibrator

    # ------------------------------------------------------------------ answering
    def search(self, question: Question, k: int | None = None) -> list[RetrievedPassage]:
        """Passages for the question; a follow-up's query also carries the turn it continues."""
        query = f"{question.text} {question.topic}" if question.topic else question.text
        return self.collections.search(query, k or self.settings.read_k, collection=question.collection)

    def answer(self, question: Question | str, top_k: int | None = None, *, read_k: int | None = None) -> list[Answer]:
        """Best answers first (by the probability shown); one no-answer `Answer` with the best guess
        when no passage holds an answer."""
        return self.answer_batch([question], top_k, read_k=read_k)[0]

    def answer_batch(self, questions: list[Question | str], top_k: int | None = None, *,
                     read_k: int | None = None) -> list[list[Answer]]:
        """`answer` for many questions, their passages read in one batched reader pass."""
        qs = [Question.of(q, self.settings.max_question_chars) for q in questions]
        top_k = top_k or self.settings.top_k
        t0 = time.perf_counter()
        hits = [self.search(q, read_k) for q in qs]
        t1 = time.perf_counter()
        groups = self.candidates_batch([q.text for q in qs], hits)
        t2 = time.perf_counter()
        timings = {"retrieve_s": round((t1 - t0) / len(qs), 4), "read_s": round((t2 - t1) / len(qs), 4),
                   "total_s": round((t2 - t0) / len(qs), 4)}
        out = []
        for cands in groups:
            answers = self.decide(cands)
            for a in answers:
                a.timings = dict(timings)
            out.append(answers[:top_k])
        return out

    def candidates_batch(self, questions: list[str], hits: list[list[RetrievedPassage]]
                         ) -> list[list[tuple[Answer, dict[str, float], bool]]]:
        """Per question: merged candidate answers (uncalibrated) with the features their probability
        is computed from, and whether their passage's reader abstained."""
        from mrc.span import ReadRequest

        reqs = [ReadRequest(q, h.text, source_id=str(i), title=h.title)
                for q, hs in zip(questions, hits, strict=True) for i, h in enumerate(hs)]
        from retrieval.fusion import highest
        from retrieval.hybrid import fusion_params

        per_passage = self.reader.read_batch(reqs, top_k=5) if reqs else []
        fused_top = highest(*fusion_params(self.settings))
        out, pos = [], 0
        for q, hs in zip(questions, hits, strict=True):
            out.append(_candidates(q, hs, per_passage[pos : pos + len(hs)], fused_top))
            pos += len(hs)
        return out

    def decide(self, cands: list[tuple[Answer, dict[str, float], bool]]) -> list[Answer]:
        """Calibrated probabilities, ranked by them; "no answer" (with the best guess) when every
        passage's reader abstained or nothing was found."""
        if not cands:
            return [Answer.none(Route.WEBQA, score=1.0)]
        probs = self.calibrator.probabilities([f for _, f, _ in cands])
        answers = []
        for (a, _, _), p in zip(cands, probs, strict=True):
            a.score = round(float(p), 4)
            answers.append(a)
        answers.sort(key=lambda a: (-a.score, -(a.raw_score or 0.0)))
        # Each is calibrated as if it were the only one shown, and the calibration is fitted on top
        # answers; but the spans of one question are other answers to it (a span and the spans
        # around it are one group already), so at most one is right: the runners-up share what
        # the answers before them leave (Berlin 0.82 leaves 0.18, not 0.45 each for two others).
        left = 1.0 - answers[0].score
        for a in answers[1:]:
            a.score = round(max(0.0, min(a.score, left)), 4)
            left -= a.score
        if all(abstained for _, _, abstained in cands):
            best = answers[0]
            return [Answer.none(Route.WEBQA, score=round(1.0 - best.score, 4), best_guess=best,
                                evidence=best.evidence)]
        return answers


def _candidates(question: str, hits: list[RetrievedPassage], per_passage: list[list[Answer]],
                fused_top: float = 1.0) -> list[tuple[Answer, dict[str, float], bool]]:
    """Spans of every passage (`source_id` = the passage's position in `hits`) merged into groups,
    each with its features; the answers carry the passage's real id and evidence. A fused score is
    read as a share of the highest `fused_top` the fusion settings allow (1 with the defaults), so other
    weights do not move the probability: weights of 10 and 10 put wrong answers at 1.00."""
    spans: list[Answer] = []
    abstained: list[bool] = []
    for answers in per_passage:
        abstained.append(bool(answers) and answers[0].no_answer)
        spans.extend(a for a in answers if not a.no_answer)
    if not spans:
        return []
    groups = _group(spans)
    raw = [a.raw_score if a.raw_score is not None else -math.inf for a in spans]
    top = max(raw)

    def share(members: list[Answer], t: float) -> float:
        total = sum(math.exp((r - top) / t) for r in raw)
        return sum(math.exp(((m.raw_score if m.raw_score is not None else -math.inf) - top) / t)
                   for m in members) / total

    dense = [h.scores["dense"] for h in hits if "dense" in h.scores]
    said = [terms(f"{h.title}\n{h.text}") for h in hits]  # once a passage, not once an answer read from it
    nowhere = named_nowhere(question, said)
    closest = max(dense, default=None)
    out = []
    for g in groups:
        best_raw = g.best.raw_score or 0.0
        others = [gg.best.raw_score or 0.0 for gg in groups if gg is not g]
        i = int(g.best.source_id or 0)
        hit = hits[i]
        feats = span_features(
            question=question, answer=g.best.text, reader_prob=g.best.score, mass=share(g.members, 1.0),
            mass_t3=share(g.members, 3.0), support=len(g.passages), rank=i + 1, retrieval_score=hit.score / fused_top,
            gap=best_raw - max(others) if others else 10.0, passage_abstained=abstained[i], groups=len(groups),
            boundary_share=_boundary_share(g), members=len(g.members), passage=said[i],
            nowhere=nowhere, dense=hit.scores.get("dense", min(dense, default=None)), dense_top=closest)
        ev = g.best.span
        assert ev is not None
        also = []
        for p in _giving(g):
            pid = hits[int(p)].id
            if int(p) != i and pid not in also and pid != hit.id:
                also.append(pid)
        evidence = SpanEvidence(
            passage_id=hit.id, title=hit.title, text=ev.text, start=ev.start, end=ev.end, source=hit.source,
            collection=hit.collection, retrieval_score=round(hit.score, 6), also_in=also)
        out.append((Answer(text=g.best.text, score=g.best.score, route=Route.WEBQA, evidence=evidence,
                           raw_score=g.best.raw_score, null_score=g.best.null_score), feats, abstained[i]))
    return out


def _giving(g: _Group) -> list[str]:
    """The passages that give the group's answer itself: a span with its words, or a longer one
    holding them. A passage whose span is only part of the answer ("euros" of "140 euros", where the
    answer is "340 euros") supports the group's score but does not say the same thing."""
    from mrc.metrics import normalize_answer

    out: list[str] = []
    for m in g.members:
        norm = normalize_answer(m.text) or m.text.lower()
        if (norm == g.norm or f" {g.norm} " in f" {norm} ") and (m.source_id or "") not in out:
            out.append(m.source_id or "")
    return out


def _boundary_share(g: _Group) -> float:
    """The share of a group's span probability held by spans with exactly the chosen text (the same
    span read from several passages agrees; nested variants compete for the boundaries)."""
    from mrc.metrics import normalize_answer

    raws = [(m.raw_score if m.raw_score is not None else -math.inf, normalize_answer(m.text)) for m in g.members]
    top = max(r for r, _ in raws)
    total = sum(math.exp(r - top) for r, _ in raws)
    same = sum(math.exp(r - top) for r, t in raws if t == g.norm)
    return same / total if total > 0 else 1.0


def _group(spans: list[Answer]) -> list[_Group]:
    """Merge near-duplicate spans, best raw score first: the same normalised text, one text inside
    the other (whole words), or overlapping offsets in one passage."""
    from mrc.metrics import normalize_answer

    groups: list[_Group] = []
    for a in sorted(spans, key=lambda x: -(x.raw_score if x.raw_score is not None else -math.inf)):
        norm = normalize_answer(a.text) or a.text.lower()
        home = None
        for g in groups:
            if _same(g, a, norm):
                home = g
                break
        if home is None:
            home = _Group(best=a, norm=norm)
            groups.append(home)
        home.members.append(a)
        if a.source_id not in home.passages:
            home.passages.append(a.source_id or "")
    return groups


def _same(g: _Group, a: Answer, norm: str) -> bool:
    if norm == g.norm:
        return True
    if norm and g.norm and (f" {norm} " in f" {g.norm} " or f" {g.norm} " in f" {norm} "):
        return True
    for m in g.members:
        if m.source_id == a.source_id and m.start is not None and a.start is not None and m.end is not None \
                and a.end is not None and m.start < a.end and a.start < m.end:
            return True
    return False
