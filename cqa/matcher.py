"""Community QA, the third answer source: a new question is matched against already-answered
questions, and the best answer of the matched thread is returned.

question -> encoder vector + stemmed tokens -> dense (FAISS) and BM25 candidates from the thread
store -> reciprocal-rank fusion -> the top `cqa_candidates` threads -> re-scorer (logistic model
over similarity features, trained on SemEval-2016 train-part2) = P(the thread answers the new
question) -> answer selection inside each matched thread (accepted answer, else most votes, else
the answer-quality model trained on the same data, combined with the answer judge, a cross-encoder
that reads question and answer together, when one is installed) -> the span reader cuts a short answer out of a
long one when it is sure, the full answer stays in the evidence.

Why a probability and not a similarity: FAQ matchers that softmax over their entries always look
sure (one entry gets ~1.0), so a fallback never fires. The re-scorer's output is the probability
that the match is right, fitted on labelled training pairs, so the router can compare it with the
other sources and "no answer" (with the best guess) is shown when it is low.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cqa import wordnet
from cqa.features import (
    OTHER_QUESTION_CAP,
    READ_ANSWER_CHARS,
    AnswerInfo,
    Candidate,
    answer_features,
    match_features,
    other_question,
    read_margins,
    two_questions,
)
from cqa.model import LogisticModel
from cqa.store import SEED_META, USER_WAIT_MS, StoredAnswer, Thread, ThreadStore, content_id, full_text
from cqa.text import tokenize
from qa.core.errors import BusyError, InputError, QAError
from qa.core.paths import DATA_DIR
from qa.core.settings import Settings
from qa.core.types import Answer, Encoder, PairJudging, Question, Route, SpanReading, ThreadEvidence

if TYPE_CHECKING:
    from cqa.importers import ImportReport
    from cqa.index import ThreadIndex

log = logging.getLogger("qa.cqa")
MODEL_DIR = DATA_DIR / "cqa"
RESCORER = MODEL_DIR / "rescorer.json"
ANSWER_RANKER = MODEL_DIR / "answer_ranker.json"
ANSWER_WORDING = MODEL_DIR / "answer_wording.json"
ANSWER_STACK = MODEL_DIR / "answer_stack.json"  # the answer model's and the answer judge's logits combined
# the re-scorer's and the question judge's logits combined, in the judge's folder: fitted for that
# judge, so another judge never runs with a combination fitted for the shipped one
QUESTION_STACK = "question_stack.json"
FUSION_K = 60.0
DEPTH = 50  # candidates each retriever proposes before fusion
SHORT_ANSWER_WORDS = 25  # answers longer than this get a short span when the reader is sure
SHORT_ANSWER_MIN_SCORE = 0.5
MAX_DUPLICATE_HOPS = 8  # links followed from a closed duplicate to an answered original
# the encoder's similarity at which a stored question is the new one in nearly the same words
# ("What is the smallest country on Earth?" / "... in the world?" 0.96; paraphrases in other words
# score less: "Which city in Canada has the most people?" / "What is the most populous city in
# Canada?" 0.91, and are left to the router's classifier)
HOLDS_SIMILARITY = 0.95
INLINE_EMBED = 512  # threads without a vector that the first question embeds (a few seconds at most)
READ_TOP = 2  # answers of a thread the span reader re-reads: the best by the answer model's other features


def rescorer_digest(path: Path = RESCORER) -> str:
    """The re-scorer file's content hash: the question judge's combination is fitted on this
    re-scorer's logits and records it, so a refit re-scorer is noticed (see `question_stack`)."""
    import hashlib

    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def stack_inputs(priors: Sequence[float], logits: Sequence[float]) -> np.ndarray:
    """The question stack's two inputs, the re-scorer's log-odds and the judge's logit: one function
    for fitting (`question_training.StackRows`) and for use (`judge_questions`)."""
    p = np.clip(np.asarray(priors, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.column_stack([np.log(p / (1 - p)), np.asarray(logits, dtype=np.float64)])


def judged_pair(question: str, thread: Thread, similarity: float) -> bool:
    """Whether the question judge reads a candidate: the judge learnt from pairs of questions, and
    the combination was fitted on FAQ entries (no body) matched to questions in other words. A
    forum post, whatever its title, an entry written as a statement ("My printer is not
    printing.") and an entry in nearly the question's own words (`HOLDS_SIMILARITY`: the store
    holds the question itself) are outside both, and keep the re-scorer's probability."""
    return not thread.body.strip() and similarity < HOLDS_SIMILARITY and two_questions(question, thread.title)


@dataclass
class Match:
    """One stored thread scored against a new question."""

    thread: Thread
    probability: float
    features: dict[str, float]
    fused_rank: int
    caveat: str | None = None  # why the probability was held down (see `score`)
    prior: float = 0.0  # the re-scorer's probability, before the question judge and the checks
    judged: float | None = None  # the question judge's logit, where it read the pair


@dataclass
class RankedAnswer:
    answer: StoredAnswer
    score: float  # the answer-quality model's probability (or 1.0 for an accepted answer)
    reason: str  # "accepted", "votes" or "relevance"


def _log_files(path: Path) -> tuple[Path, Path]:
    """A SQLite store's write-ahead log and its shared-memory index, beside it."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file `path` names now (device, inode); None where there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


class CommunityQA:
    """The answer source over a thread store; every heavy part loads on first use."""

    name = Route.CQA

    def __init__(self, settings: Settings | None = None, *, store: ThreadStore | str | Path | None = None,
                 encoder: Encoder | None = None, span_reader: SpanReading | None = None,
                 rescorer: LogisticModel | None = None, answer_ranker: LogisticModel | None = None,
                 answer_wording: LogisticModel | None = None, judge: PairJudging | None = None,
                 answer_stack: LogisticModel | None = None, question_judge: PairJudging | None = None,
                 question_stack: LogisticModel | None = None, seed: bool | None = None) -> None:
        self.settings = settings or Settings.load()
        self._store = store if isinstance(store, ThreadStore) else None
        self._given_store = self._store is not None
        self._store_path = Path(store) if isinstance(store, str | Path) else Path(self.settings.cqa_store)
        self._encoder = encoder
        self._span_reader = span_reader
        self._rescorer = rescorer
        self._given_rescorer = rescorer is not None  # a re-scorer being trained, not the shipped file
        self._answer_ranker = answer_ranker
        self._answer_wording = answer_wording
        self._judge = judge
        self._answer_stack = answer_stack
        self._question_judge = question_judge
        self._question_stack = question_stack
        self._seed = self.settings.cqa_seed if seed is None else seed
        self._index: ThreadIndex | None = None
        # the store file's identity when it was opened, and its write-ahead log's
        self._opened: tuple[int, int] | None = None
        self._opened_wal: tuple[int, int] | None = None
        self._lock = threading.RLock()
        # the last question matched, with the store's generation it was matched at: the engine's
        # look ahead (`holds`) and then `answer` match the same question once
        self._last_match: tuple[tuple[str, int, str | None], list[Match]] | None = None
        self._last_judged: tuple[tuple[str, int, str | None], list[Match]] | None = None

    # ------------------------------------------------------------------ components
    @property
    def store(self) -> ThreadStore:
        """The thread store; where the file was removed or replaced since it was opened (a backup
        put back, a store deleted to start over), the file there now: a server kept answering from,
        and filing new answers into, a deleted store until it was restarted, all of it lost then.
        The store left behind is closed (a question using it that moment fails)."""
        with self._lock:
            if self._store is not None and not self._given_store and _identity(self._store_path) != self._opened:
                log.warning("the thread store %s was removed or replaced since it was opened: using the file there "
                            "now", self._store_path)
                replaced, self._store, self._index, self._last_match, self._last_judged = \
                    self._store, None, None, None, None
                replaced.close()  # SQLite leaves a moved file's log where it is, whoever else uses that path
                wal, shm = _log_files(self._store_path)
                if self._opened_wal is not None and _identity(wal) == self._opened_wal:
                    # the replaced file's own write-ahead log, still at the path: read over the new
                    # file it made it the old one again, or "database disk image is malformed"
                    wal.unlink(missing_ok=True)
                    shm.unlink(missing_ok=True)
            if self._store is None:
                store = ThreadStore(self._store_path)
                self._opened, self._opened_wal = _identity(self._store_path), _identity(_log_files(self._store_path)[0])
                # seeded once, recorded in the seed's own transaction: a first run killed while seeding
                # leaves an empty store that the next run seeds; a store `qa cqa import` created says "skip"
                if not store.read_only and not store.get_meta(SEED_META) and store.count() == 0:
                    if self._seed:
                        self._import_seed(store)
                    elif not self.settings.cqa_seed:  # the user's QA_CQA_SEED=false "starts it empty": a
                        # later run with the default left it so too (it had put the trivia into a team's
                        # store); a command that opens it unseeded for its own work (`qa cqa embed`) does not
                        with contextlib.suppress(BusyError):
                            store.set_meta(SEED_META, "skip")
                self._store = store
            return self._store

    def close(self) -> None:
        """Close the store this source opened (a server stopping): its write-ahead log is folded into
        the file, so the store is one file again (`threads.sqlite` copied alone holds everything).
        Used again, it opens again."""
        with self._lock:
            if self._given_store:  # its owner's to close
                return
            store, self._store = self._store, None
            self._index = None  # it reads the store: built again over the store opened again
        if store is not None:
            store.close()

    @staticmethod
    def _import_seed(store: ThreadStore) -> None:
        from cqa.importers import import_records
        from cqa.seed import SOURCE, seed_records

        with store.transaction():
            if store.get_meta(SEED_META) or store.count():  # seeded by another process, or made an import's,
                return                                      # while this one waited for the store
            import_records(store, seed_records(), source=SOURCE, path="chatterbot-corpus")
            store.set_meta(SEED_META, "done")

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            raise InputError("community QA needs a sentence encoder (the engine passes its shared one)")
        return self._encoder

    @property
    def index(self) -> ThreadIndex:
        """The search index (built or loaded on first use; `match` catches it up with the store)."""
        with self._lock:
            store = self.store  # first: a store file replaced since drops the index of the one before
            if self._index is None:
                from cqa.index import ThreadIndex

                index = ThreadIndex(store, self.encoder)
                # a few threads filed since the last embedding are embedded now; a whole import left
                # with --no-embed is not (minutes without a word before the first answer): BM25 finds
                # its threads until `qa cqa embed` runs. While an import writes, it embeds what it wrote.
                pending = store.count_unembedded() if store.writable_now() else 0
                if pending > INLINE_EMBED:
                    log.warning("%s threads in %s have no vector yet: they are found by their words alone "
                                "until `qa cqa embed` embeds them", f"{pending:,}", store.path)
                elif pending:
                    index.embed_pending()
                index.load()
                self._index = index
            return self._index

    @property
    def rescorer(self) -> LogisticModel:
        if self._rescorer is None:
            self._rescorer = LogisticModel.load(RESCORER)
        return self._rescorer

    @property
    def answer_ranker(self) -> LogisticModel:
        if self._answer_ranker is None:
            self._answer_ranker = LogisticModel.load(ANSWER_RANKER)
        return self._answer_ranker

    @property
    def answer_wording(self) -> LogisticModel:
        if self._answer_wording is None:
            self._answer_wording = LogisticModel.load(ANSWER_WORDING)
        return self._answer_wording

    @property
    def answer_stack(self) -> LogisticModel | None:
        """How the answer model's and the judge's logits combine (`qa cqa train-judge`); None without
        a judge or without the file, and answers are ranked as before the judge existed."""
        if self._answer_stack is None and self._judge is not None and ANSWER_STACK.exists():
            self._answer_stack = LogisticModel.load(ANSWER_STACK)
        return self._answer_stack if self._judge is not None else None

    @property
    def question_stack(self) -> LogisticModel | None:
        """How the re-scorer's and the question judge's logits combine (`qa cqa train-question-judge`
        writes it into the judge's folder); None without a question judge or without the file: the
        re-scorer's probability is shown."""
        if self._question_stack is None and self._question_judge is not None:
            folder = getattr(self._question_judge, "model_dir", None)
            path = Path(folder) / QUESTION_STACK if folder else None
            if path is not None and path.exists():
                self._question_stack = LogisticModel.load(path)
                fitted = self._question_stack.meta.get("rescorer_sha1")
                if not self._given_rescorer and fitted and fitted != rescorer_digest():
                    given = "".join(f" --groups {g}" for g in self._question_stack.meta.get("groups") or [])
                    log.warning("the question judge's combination (%s) was fitted with another re-scorer than %s: "
                                "refit it with `qa cqa train-question-judge --stack-only%s`", path, RESCORER, given)
        return self._question_stack if self._question_judge is not None else None

    def warm_up(self) -> None:
        _ = (self.index, self.rescorer, self.answer_ranker, self.answer_wording, self.answer_stack,
             self.question_stack)
        # the one-line checks' word meanings (`features.other_word`): a store of forum posts never
        # needs them (one that gets FAQ entries later loads them on first need)
        one_line = self.store.has_bodiless()
        if one_line:
            wordnet.load()
        asks = one_line and self.question_stack is not None  # else the question judge never reads a pair
        for judge in (self._judge, self._question_judge if asks else None):
            warm_judge = getattr(judge, "warm_up", None)
            if warm_judge is not None:
                warm_judge()
        if self._span_reader is not None:
            warm = getattr(self._span_reader, "warm_up", None)
            if callable(warm):
                warm()

    # ------------------------------------------------------------------ matching
    def candidates(self, text: str, vector: np.ndarray, tokens: Sequence[str], k: int) -> list[int]:
        """Thread keys to re-score: the top `k` of dense search and the top `k` of BM25 (a thread only
        one of them finds can still be the answer), ordered by reciprocal-rank fusion."""
        dense = self.index.dense_search(vector, max(k, DEPTH))
        sparse = self.index.bm25_search(tokens, max(k, DEPTH))
        fused: dict[int, float] = {}
        best: dict[int, int] = {}
        for ranked in (dense, sparse):
            for rank, (key, _) in enumerate(ranked, start=1):
                fused[key] = fused.get(key, 0.0) + 1.0 / (FUSION_K + rank)
                best[key] = min(best.get(key, rank), rank)
        chosen = {key for key, _ in dense[:k]} | {key for key, _ in sparse[:k]}
        return sorted(chosen, key=lambda key: (-fused[key], best[key], key))

    def features(self, question: str, keys: Sequence[int], *, vector: np.ndarray | None = None,
                 threads: dict[int, Thread] | None = None) -> tuple[list[Thread], list[dict[str, float]]]:
        """The re-scorer's features of candidate threads (unknown keys are dropped)."""
        vector = self.encoder.encode([question])[0] if vector is None else vector
        tokens = tokenize([question])[0]
        threads = threads or self.store.get(keys)
        keys = [k for k in keys if k in threads]
        if not keys:
            return [], []
        index = self.index
        tvecs = index.vectors(keys)
        if not tvecs.shape[1]:  # nothing embedded yet: every candidate is read now
            tvecs = np.zeros((len(keys), len(vector)), dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if not tvecs[i].any()]
        if missing:
            tvecs[missing] = self.encoder.encode([threads[keys[i]].text for i in missing])
        bm25 = index.bm25_scores(tokens, keys)
        full = tokenize([full_text(threads[k]) for k in keys])
        cands = [Candidate(k, tvecs[i], bm25.get(k, 0.0), index.lexical.bm25(tokens, full[i]))
                 for i, k in enumerate(keys)]
        return [threads[k] for k in keys], match_features(vector, cands)

    def score(self, question: str, keys: Sequence[int], *, vector: np.ndarray | None = None,
              threads: dict[int, Thread] | None = None) -> list[Match]:
        """Re-score given candidate threads for a question: P(the thread answers it), best first."""
        found, feats = self.features(question, keys, vector=vector, threads=threads)
        if not found:
            return []
        priors = self.rescorer.probabilities(feats, group=True)
        matches = []
        for r, (t, p, f) in enumerate(zip(found, priors, feats, strict=True), start=1):
            # the features see two questions alike in every word but a number as the same question
            caveat = other_question(question, t.title, t.text, f["d_text"])
            matches.append(Match(t, min(float(p), OTHER_QUESTION_CAP) if caveat else float(p), f, r, caveat,
                                 prior=float(p)))
        matches.sort(key=lambda m: (-m.probability, m.fused_rank))
        return matches

    def judge_questions(self, question: str, matches: Sequence[Match]) -> list[Match]:
        """Between two one-line questions (an FAQ entry and a question typed into a box) the
        re-scorer, trained on forum posts, takes a question about the same thing for the same
        question ("Who built the Eiffel Tower?" for "When was it built?"). The question judge, a
        cross-encoder trained on questions people asked twice about the same fact and questions
        about the same paragraph that ask another, reads the two together; its logit and the
        re-scorer's are combined by `question_stack`, fitted on FAQ matches of held-out articles
        (every candidate the judge reads, as here). Candidates it does not read (`judged_pair`),
        and every candidate without a judge, keep the re-scorer's probability; the one-line
        checks' cap applies after the judge as before it."""
        stack = self.question_stack
        which = [i for i, m in enumerate(matches) if judged_pair(question, m.thread, m.features["d_text"])]
        if stack is None or self._question_judge is None or not which:
            return list(matches)
        logits = self._question_judge.score([(question, matches[i].thread.title) for i in which])
        probs = stack.probabilities(stack_inputs([matches[i].prior for i in which], logits))
        out = list(matches)
        for i, p, z in zip(which, probs, logits, strict=True):
            m = matches[i]
            out[i] = replace(m, probability=min(float(p), OTHER_QUESTION_CAP) if m.caveat else float(p),
                             judged=float(z))
        out.sort(key=lambda m: (-m.probability, m.fused_rank))
        return out

    def match(self, question: str | Question, k: int | None = None, *, judge: bool = True) -> list[Match]:
        """The stored threads most likely to answer `question`, best first, with their probability.
        `judge=False`: the re-scorer's probabilities alone (the engine's look ahead, `holds`, needs
        no more, and does not pay for the question judge on every question)."""
        q = Question.of(question, self.settings.max_question_chars)
        self.index.sync()  # once a question: writes another process committed (an import) are searched too
        k = k or self.settings.cqa_candidates
        key = (q.text, k, self.index.generation)
        last = self._last_match
        if last is not None and last[0] == key:  # `holds`, then `answer`, for the same question
            matches = last[1]
        else:
            vector = self.encoder.encode([q.text])[0]
            keys = self.candidates(q.text, vector, tokenize([q.text])[0], k)
            matches = self.score(q.text, keys, vector=vector)
            self._last_match = (key, matches)
        if not judge:
            return list(matches)
        judged = self._last_judged
        if judged is None or judged[0] != key:
            judged = (key, self.judge_questions(q.text, matches))
            self._last_judged = judged
        return list(judged[1])

    def holds(self, question: str | Question) -> float:
        """The probability that the store's answer is right, where the store holds the question
        itself: the best match with an answer is a stored question in nearly the same words
        (`HOLDS_SIMILARITY`), not another question (no `caveat`), and likely enough to be answered
        (`cqa_min_score`). 0.0 otherwise. One match, no answer read, so the engine can ask before
        it picks a source (`qa.core.types.HoldsQuestions`); `answer` then reuses the match, unless
        the store changed in between."""
        matches = self._answered_matches(question, judge=False)  # a held question is never judged
        top = matches[0] if matches else None
        if (top is None or top.caveat is not None or top.features["d_text"] < HOLDS_SIMILARITY
                or top.probability < self.settings.cqa_min_score):
            return 0.0
        return top.probability

    def _answered_matches(self, question: str | Question, *, judge: bool = True) -> list[Match]:
        """The matches that can give an answer: threads with answers, or duplicates of one."""
        return [m for m in self.match(question, judge=judge) if m.thread.answers or m.thread.duplicate_of]

    def answer_vectors(self, thread: Thread) -> np.ndarray:
        """Vectors of a thread's answers, encoded once and kept in the store."""
        if not thread.answers:
            return np.zeros((0, 0), dtype=np.float32)
        store = self.store
        have = store.answer_vectors([a.key for a in thread.answers])
        todo = [a for a in thread.answers if a.key not in have]
        if todo:
            vecs = np.asarray(self.encoder.encode([a.text for a in todo]), dtype=np.float32)
            if not store.read_only:  # a cache: skipped while an import holds the store
                store.set_answer_vectors([a.key for a in todo], vecs, wait=False)
            have.update({a.key: v for a, v in zip(todo, vecs, strict=True)})
        return np.stack([have[a.key] for a in thread.answers])

    # ------------------------------------------------------------------ answer selection
    def answer_features(self, thread: Thread, vectors: np.ndarray | None = None, *,
                        read: Sequence[int] | None = None) -> list[dict[str, float]]:
        """The answer-quality model's features of each answer of a thread, in stored order
        (`vectors`: the answers' sentence vectors when the caller already has them; `read`: which
        answers the span reader reads, all by default, the others get its training mean)."""
        if not thread.answers:
            return []
        vecs = self.answer_vectors(thread) if vectors is None else vectors
        qvec = self.index.vectors([thread.key])[0]
        if not qvec.any():
            qvec = self.encoder.encode([thread.text])[0]
        infos = [AnswerInfo(a.text, tokenize([a.text])[0], vecs[i], a.author) for i, a in enumerate(thread.answers)]
        rows = answer_features(tokenize([thread.text])[0], qvec, thread.author, infos)
        for r, w, m in zip(rows, self.wording_scores(vecs), self.read_scores(thread, read), strict=True):
            r["wording"], r["read"] = w, m
        return rows

    def read_scores(self, thread: Thread, which: Sequence[int] | None = None) -> list[float]:
        """The span reader's margin (`cqa.features.read_margins`) for the answers at `which` (all
        by default); the answer model's training mean for the others and without a reader, which
        leaves their ranking to the other features."""
        model = self.answer_ranker
        mean = model.mean[model.features.index("read")] if "read" in model.features and model.mean else 0.0
        out = [float(mean)] * len(thread.answers)
        if self._span_reader is None:
            return out
        idx = list(range(len(thread.answers)) if which is None else which)
        for i, m in zip(idx, read_margins(self._span_reader, thread.text, [thread.answers[i].text for i in idx]),
                        strict=True):
            out[i] = m
        return out

    def answer_quality(self, thread: Thread) -> list[float]:
        """P(answer is a good answer to its thread's question), per answer in stored order.

        With the answer judge: the answer model (without the span reader's margin) and the judge,
        which reads every answer with the question, combined by the stack fitted on held-out
        training threads (SemEval-2016 dev, subtask A: see data/cqa/README.md). Without it, the
        span reader re-reads the `READ_TOP` answers the model's other features put on top (reading
        every answer costs a reader pass each and ranks no better)."""
        rows = self.answer_features(thread, read=())
        if len(rows) < 2:  # nothing to order: no reader pass
            return self.answer_ranker.probabilities(rows).tolist()
        stack = self.answer_stack  # None without a judge
        if stack is not None and self._judge is not None:
            judged = self._judge.score([(thread.text, a.text) for a in thread.answers])
            z = np.stack([self.answer_ranker.raw_logits(rows), np.asarray(judged, dtype=np.float64)], axis=1)
            return stack.probabilities(z).tolist()
        probs = self.answer_ranker.probabilities(rows)
        if self._span_reader is None or "read" not in self.answer_ranker.features:
            return probs.tolist()
        top = [int(i) for i in np.argsort(-probs, kind="stable")[:READ_TOP]]
        margins = self.read_scores(thread, top)
        for i in top:
            rows[i]["read"] = margins[i]
        probs[top] = self.answer_ranker.probabilities([rows[i] for i in top])
        return probs.tolist()

    def wording_scores(self, vectors: np.ndarray) -> list[float]:
        """How much each answer reads like a good answer (a logistic model over its sentence vector,
        whatever the question); with another encoder than the one it was trained on, the training
        mean, which leaves the answer ranking to the other features."""
        model = self.answer_wording
        if len(vectors) and (model.meta.get("encoder") != self.encoder.name or vectors.shape[1] != len(model.weights)):
            return [float(model.meta.get("oof_mean", 0.0))] * len(vectors)
        return model.raw_logits(np.asarray(vectors, dtype=np.float64)).tolist()

    def rank_answers(self, thread: Thread) -> list[RankedAnswer]:
        """The thread's answers, best first: the accepted one, then by votes when any answer has
        some, else by the answer-quality model (only then are the answers encoded)."""
        if not thread.answers:
            return []
        # votes order a thread once somebody voted: all zeros (or one answer added with 0 to a forum
        # thread that has no votes) say nothing, and must not replace the quality model's order
        has_votes = any(a.votes for a in thread.answers)
        if has_votes or any(a.accepted for a in thread.answers):
            quality = [0.0] * len(thread.answers)
        else:
            quality = self.answer_quality(thread)
        ranked = []
        for a, p in zip(thread.answers, quality, strict=True):
            reason = "accepted" if a.accepted else "votes" if has_votes else "relevance"
            ranked.append(RankedAnswer(a, 1.0 if a.accepted else float(p), reason))
        ranked.sort(key=lambda r: (not r.answer.accepted, -(r.answer.votes or 0), -r.score))
        return ranked

    # ------------------------------------------------------------------ the answer-source verb
    def answer(self, question: Question | str, top_k: int | None = None) -> list[Answer]:
        """The best answer of each matched thread, most likely right first; "no answer" with the best
        guess when even the best match is unlikely to answer the question."""
        q = Question.of(question, self.settings.max_question_chars)
        top_k = top_k or self.settings.top_k
        t0 = time.perf_counter()
        matches = self._answered_matches(q)
        t1 = time.perf_counter()
        answers: list[Answer] = []
        shown: set[str] = set()
        for m in matches[: top_k + 2]:  # a couple more, for matches whose answer is one shown already
            if len(answers) == top_k:
                break
            a = self._answer_of(q.text, m)
            # a closed duplicate and its original, or a question filed twice, give the same answer once
            same = (" ".join(unicodedata.normalize("NFC", a.evidence.answer).lower().split())
                    if a is not None and isinstance(a.evidence, ThreadEvidence) else "")
            if a is not None and same not in shown:
                shown.add(same)
                answers.append(a)
        t2 = time.perf_counter()
        timings = {"match_s": round(t1 - t0, 4), "select_s": round(t2 - t1, 4), "total_s": round(t2 - t0, 4)}
        if not answers:
            return [Answer.none(Route.CQA, score=1.0, timings=timings)]
        for a in answers:
            a.timings = dict(timings)
        if answers[0].score < self.settings.cqa_min_score:
            best = answers[0]
            return [Answer.none(Route.CQA, score=round(1.0 - best.score, 4), best_guess=best, evidence=best.evidence,
                                timings=timings)]
        return [a for a in answers if a.score >= self.settings.cqa_min_score] or answers[:1]

    def _answered_original(self, thread: Thread) -> Thread:
        """The nearest thread with answers down a closed duplicate's links (a duplicate of a
        duplicate is common in StackExchange dumps; cycles are cut), else the thread itself."""
        seen, level = {thread.key}, list(thread.duplicate_of)
        for _ in range(MAX_DUPLICATE_HOPS):
            level = [k for k in dict.fromkeys(level) if k not in seen]
            if not level:
                break
            seen.update(level)
            found = self.store.get(level)
            answered = next((found[k] for k in level if k in found and found[k].answers), None)
            if answered is not None:
                return answered
            level = [target for k in level if k in found for target in found[k].duplicate_of]
        return thread

    def _answer_of(self, question: str, m: Match) -> Answer | None:
        thread = m.thread
        if not thread.answers and thread.duplicate_of:  # a closed duplicate: its original's answers
            thread = self._answered_original(thread)
        ranked = self.rank_answers(thread)
        if not ranked:
            return None
        best = ranked[0].answer
        text, start, end = best.text, None, None
        if self._span_reader is not None and len(best.text.split()) > SHORT_ANSWER_WORDS:
            spans = self._span_reader.read(question, best.text[:READ_ANSWER_CHARS], top_k=1)  # offsets hold
            if spans and not spans[0].no_answer and spans[0].score >= SHORT_ANSWER_MIN_SCORE and spans[0].text:
                text, start, end = spans[0].text, spans[0].start, spans[0].end
        evidence = ThreadEvidence(thread_id=thread.uid, title=thread.title, question=thread.text,
                                  answer_id=best.id, answer=best.text, votes=best.votes, accepted=best.accepted,
                                  source=thread.source, start=start, end=end,
                                  via_duplicate=m.thread.uid if thread.key != m.thread.key else None,
                                  caveat=m.caveat)
        return Answer(text=text, score=round(m.probability, 4), route=Route.CQA, evidence=evidence,
                      raw_score=round(float(self.rescorer.raw_logits([m.features])[0]), 4))

    # ------------------------------------------------------------------ adding content
    def add_question(self, title: str, body: str = "", *, answer: str | None = None, accepted: bool = True,
                     source: str = "user", question_id: str | None = None, answer_id: str | None = None,
                     tags: Sequence[str] = ()) -> str:
        """File a new question (optionally with its answer) and index it at once; returns its thread id."""
        with self._lock:
            index = self.index
            # one transaction for the question and its answer; while an import holds the store it
            # fails at once (StoreBusy, an HTTP 503) instead of holding every question up behind it
            store = self.store  # one file throughout (`store` follows a file replaced under it)
            with store.no_wait(USER_WAIT_MS), store.transaction():
                tid = store.add_question(title, body, source=source, question_id=question_id, tags=tags)
                if answer is not None:
                    store.add_answer(tid, answer, accepted=accepted, answer_id=answer_id)
            thread = store.thread(tid)
            # a question sent again is indexed already, unless the first time failed after it was stored
            if not index.vectors([thread.key])[0].any():
                index.add([thread.key], [thread.text])
                try:
                    index.save()
                except (OSError, RuntimeError) as exc:  # (FAISS says RuntimeError) stored and searchable
                    # here; the files catch up at the next load
                    log.warning("the thread index of %s was not saved: %s", self.store.path, exc)
            return tid

    def add_answer(self, thread_id: str, text: str, *, accepted: bool = False, votes: int | None = None,
                   author: str = "") -> str:
        """Add an answer to a stored thread; returns the answer id."""
        store = self.store
        with store.no_wait(USER_WAIT_MS):
            return store.add_answer(thread_id, text, accepted=accepted, votes=votes, author=author)

    def accept_answer(self, thread_id: str, answer_id: str) -> None:
        store = self.store
        with store.no_wait(USER_WAIT_MS):
            store.accept_answer(thread_id, answer_id)

    def delete_thread(self, thread_id: str) -> Thread:
        """Delete a thread (a question filed by mistake, a wrong seed entry) with its answers; it is
        out of every match from the next question on. The index catches up here, so that the
        rebuild of its word statistics a deletion needs is paid by the deletion, not the next question."""
        store = self.store
        with store.no_wait(USER_WAIT_MS):
            gone = store.delete_thread(thread_id)
        self._forget(thread_id)
        return gone

    def _forget(self, what: str, *, answers: bool = False) -> None:
        """The index catches up with a deletion now (its files too), so that it is out of them at
        once and the rebuild a deletion needs is paid by the deletion, not the next question."""
        with self._lock:
            if self._index is not None:
                try:
                    self._index.sync()
                    if answers:  # a thread's keys do not change: its words leave the statistics on disk
                        self._index.forget_answers()
                except QAError as exc:  # deleted all the same: the next question's sync says it again
                    log.warning("the thread index did not catch up with the deletion of %s: %s", what, exc)

    def delete_answer(self, thread_id: str, answer_id: str) -> StoredAnswer:
        """Delete one answer of a thread; the thread shows its next best answer, or none."""
        store = self.store
        with store.no_wait(USER_WAIT_MS):
            gone = store.delete_answer(thread_id, answer_id)
        self._forget(answer_id, answers=True)
        return gone

    def file_answer(self, question: str, answer: str, *, source: str = "user") -> str:
        """An answer a user accepted for their question (e.g. from the UI): stored as a new thread
        with that accepted answer, so the next person asking it gets it. Returns the thread id."""
        q = Question.of(question, self.settings.max_question_chars)
        # filed twice (a double click, another user) it is one thread with that answer accepted:
        # the store takes a question and an answer sent again as the ones stored, and a user
        # accepting it again accepts it again (a stored answer sent again keeps its acceptance
        # otherwise). The answer's id is its whole text digest, as in stores filed before the
        # store did so.
        aid = content_id(answer)
        tid = self.add_question(q.text, answer=answer, source=source, answer_id=aid)
        if not next(a.accepted for a in self.store.thread(tid).answers if a.id == aid):
            self.accept_answer(tid, aid)
        return tid

    def import_file(self, path: str | Path, fmt: str | None = None, *, embed: bool = True,
                    progress: Any = None, **kw: Any) -> ImportReport:
        """Import a file (see `cqa.importers.import_file`), then index the new threads."""
        from cqa.importers import import_file

        rep = import_file(self.store, path, fmt, on_bytes=progress, **kw)
        if embed:
            self.refresh()
        return rep

    def refresh(self, progress: Any = None) -> int:
        """Embed threads without a vector and bring the index up to date; returns how many were embedded.
        The encoding (minutes after a large import) holds no lock of this source: questions go on being
        answered meanwhile (held behind it, an FAQ question waited ten seconds for a 3,000-entry
        import, and the engine's routing with it), the new threads found by their words until their
        vectors are in; only the catching up at the end holds them, briefly."""
        from cqa.index import ThreadIndex

        n = ThreadIndex(self.store, self.encoder).embed_pending(progress=progress)
        with self._lock:
            if self._index is None:
                self._index = ThreadIndex(self.store, self.encoder).load()
            else:
                self._index.sync()
            return n

    def stats(self) -> dict[str, Any]:
        return {"store": str(self.store.path), "threads": self.store.count(), "answers": self.store.count_answers(),
                "sources": self.store.sources(), "unembedded": self.store.count_unembedded()}
