"""The shapes every layer speaks: a question, an answer with typed evidence, and the interfaces a
source or a shared model must offer.

One answer shape for every source, so the CLI's `--json`, the REST API and the UI render the same
thing, and a router can compare answers from different sources: `Answer.score` is the probability
that the answer is right, calibrated on training data. Evidence is a tagged union (`kind`), not
string keys in a dict: a span (passage and offsets), a graph result (entities, path, constraints,
SPARQL), a thread (the matched question and its answer) or the options of a multiple-choice read.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from qa.core.errors import InputError
from qa.core.text import MAX_QUESTION_CHARS, check_question

if TYPE_CHECKING:  # numpy is only a type here; the core imports nothing heavy at run time
    import numpy as np


class Route(StrEnum):
    """Where an answer came from."""

    WEBQA = "webqa"
    KBQA = "kbqa"
    CQA = "cqa"
    READER = "reader"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Question(_Model):
    """A user question; `history` holds earlier turns (questions and answers, oldest first) for
    follow-up rewriting; `collection` restricts passage search to one collection. `topic` is set by
    the engine on a rewritten follow-up: the earlier turn (question and answer) it continues, which
    passage search adds to its query (a follow-up is usually about the passage the conversation is
    on, and two questions and an answer from one paragraph find it more often than one question);
    readers and the other sources use `text` alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    history: tuple[str, ...] = ()
    collection: str | None = None
    topic: str = ""

    def __init__(self, text: str | None = None, /, **data: Any) -> None:
        """Bad input is an `InputError`, as everywhere in the library: pydantic's own error (a
        history given as one string, a collection as a number) escaped a caller's `except QAError`."""
        if text is not None:
            data["text"] = text
        limit = data.pop("max_chars", MAX_QUESTION_CHARS)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InputError(f"max_chars must be a whole number, not {limit!r}")
        data["text"] = check_question(data.get("text"), limit)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ())) or "question"
            raise InputError(f"{where}: {err.get('msg', 'invalid value')}") from None

    @classmethod
    def of(cls, question: str | Question, max_chars: int = MAX_QUESTION_CHARS) -> Question:
        return question if isinstance(question, Question) else cls(question, max_chars=max_chars)


class SpanEvidence(_Model):
    """A passage and the character offsets of the answer in it (`text[start:end]` is the answer)."""

    kind: Literal["span"] = "span"
    passage_id: str | None = None
    title: str = ""
    text: str
    start: int | None = None
    end: int | None = None
    source: str = ""
    collection: str = ""
    retrieval_score: float | None = None
    also_in: list[str] = Field(default_factory=list, description="Other passages giving the same answer.")


class LinkKind(StrEnum):
    """What a name in the question was linked to: a thing, a literal value a property holds, or a class."""

    ENTITY = "entity"
    VALUE = "value"
    CLASS = "class"


class LinkMethod(StrEnum):
    """How the name was found: its label verbatim or normalised, an acronym of it, a demonym
    ("French" for France), close in spelling, by its rarer words, or by the sentence encoder."""

    EXACT = "exact"
    NORMALISED = "normalised"
    ACRONYM = "acronym"
    DEMONYM = "demonym"
    FUZZY = "fuzzy"
    TOKEN = "token"
    DENSE = "dense"

    @property
    def verbatim(self) -> bool:
        """The label itself was found (letter case and accents aside)."""
        return self in (LinkMethod.EXACT, LinkMethod.NORMALISED)

    @property
    def approximate(self) -> bool:
        """A near miss: close in spelling, some of its words, or close in meaning."""
        return self in (LinkMethod.FUZZY, LinkMethod.DENSE, LinkMethod.TOKEN)


class LinkedEntity(_Model):
    iri: str
    label: str
    score: float
    method: LinkMethod | None = None
    kind: LinkKind = LinkKind.ENTITY


class PathStep(_Model):
    relation: str
    label: str = ""
    direction: Literal["forward", "inverse"] = "forward"


class GraphEvidence(_Model):
    """What a graph answer rests on: the linked entities, the relation path walked from the anchor,
    the constraints added and the exact SPARQL that was run."""

    kind: Literal["graph"] = "graph"
    graph: str = ""
    node: str | None = Field(None, description="IRI (or literal) of this answer in the graph; a blank node "
                                               "as `_:id`, an id valid only in the result it came from.")
    anchor: LinkedEntity | None = None
    entities: list[LinkedEntity] = Field(default_factory=list)
    path: list[PathStep] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    sparql: str = ""
    n_answers: int = 0
    more_answers: bool = Field(False, description="The query's LIMIT was reached: the graph may hold more "
                                                  "answers than `n_answers`.")


class ThreadEvidence(_Model):
    """An already-answered question that matches, and the answer taken from its thread."""

    kind: Literal["thread"] = "thread"
    thread_id: str
    title: str = ""
    question: str = ""
    answer_id: str | None = None
    answer: str = Field("", description="The full answer; `Answer.text` may be a short span of it.")
    votes: int | None = None
    accepted: bool = False
    source: str = ""
    start: int | None = Field(None, description="Offsets of the short answer inside `answer`.")
    end: int | None = None
    via_duplicate: str | None = Field(None, description="The closed duplicate that matched, when the answer "
                                                        "comes from the thread it duplicates.")
    caveat: str | None = Field(None, description="Why the match is unlikely to answer the question although "
                                                 "its words are alike (it names other numbers).")


class ChoiceEvidence(_Model):
    """A multiple-choice read: the options and the probability the reader gave each."""

    kind: Literal["choice"] = "choice"
    context: str
    question: str
    options: list[str]
    probabilities: list[float]
    chosen: int
    # how much of `context` the reader saw: its first `context_chars_read` characters (None: all of
    # it); the reader reads one window, and a longer article is cut, which the user must be told
    context_chars_read: int | None = None


Evidence = Annotated[SpanEvidence | GraphEvidence | ThreadEvidence | ChoiceEvidence, Field(discriminator="kind")]


class Answer(_Model):
    """One answer. `score` is the probability that it is right; a "no answer" result is explicit
    (`no_answer=True`, empty `text`) and carries the best guess, marked as such, when there is one.
    Sources set the calibrated score after building the answer: the bounds hold for that too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    text: str
    score: float = Field(ge=0.0, le=1.0, description="The probability that this is right; for a \"no answer\" "
                                                       "(`no_answer` true), that abstaining is right (the guess, "
                                                       "`best_guess`, has its own).")
    route: Route
    evidence: Evidence | None = None
    no_answer: bool = False
    best_guess: Answer | None = None
    raw_score: float | None = Field(None, description="The source's own uncalibrated score.")
    null_score: float | None = Field(None, description="Span readers: the no-answer logit score.")
    timings: dict[str, float] = Field(default_factory=dict)

    @field_serializer("score")
    def _four_places(self, score: float) -> float:
        """Written out to four places, whichever source computed it: "no answer" at 1 - 0.4946 was
        0.5054000000000001 in JSON, a span reader's 0.8950625436684241."""
        return round(score, 4)

    @classmethod
    def none(cls, route: Route, score: float, *, best_guess: Answer | None = None, **kw: Any) -> Answer:
        """"No answer" with `score` = the probability that abstaining is right. Its evidence (the
        passage or thread the guess came from) marks no span: a client highlighting
        `text[start:end]` marked the rejected guess as the answer; the guess keeps its own."""
        ev = kw.get("evidence")
        if isinstance(ev, SpanEvidence | ThreadEvidence) and (ev.start is not None or ev.end is not None):
            kw["evidence"] = ev.model_copy(update={"start": None, "end": None})
        return cls(text="", score=score, route=route, no_answer=True, best_guess=best_guess, **kw)

    # Span conveniences: most consumers want the passage and offsets of a span answer.
    @property
    def span(self) -> SpanEvidence | None:
        return self.evidence if isinstance(self.evidence, SpanEvidence) else None

    @property
    def start(self) -> int | None:
        return self.evidence.start if isinstance(self.evidence, SpanEvidence | ThreadEvidence) else None

    @property
    def end(self) -> int | None:
        return self.evidence.end if isinstance(self.evidence, SpanEvidence | ThreadEvidence) else None

    @property
    def source_id(self) -> str | None:
        ev = self.evidence
        if isinstance(ev, SpanEvidence):
            return ev.passage_id
        if isinstance(ev, GraphEvidence):
            return ev.node
        if isinstance(ev, ThreadEvidence):
            return ev.thread_id
        return None

    def to_dict(self) -> dict[str, Any]:
        """The one JSON shape (what `--json`, the API and the UI show)."""
        return self.model_dump(mode="json")


class AnswerSource(Protocol):
    """What the engine asks of every answer source. The constructor is light (no model, index or
    graph is loaded); `warm_up` does the heavy loading once; `answer` may call it lazily.

    `answer` returns at most `top_k` answers, best first, at least one: a source that has none
    says so with `Answer.none(route, p)`, p the probability that abstaining is right. Each score is
    that probability (the engine compares sources by it), so a bad one is the source's bug: the
    engine checks what comes back (a score out of [0, 1], NaN, anything not an `Answer`) and
    treats it as the source failing, and cuts to `top_k`. A failure the user or operator can fix
    (a file missing, an endpoint down) is a `QAError`; anything else is logged as a bug, and the
    other sources still answer."""

    name: Route

    def warm_up(self) -> None: ...

    def answer(self, question: Question, top_k: int) -> list[Answer]: ...


@runtime_checkable
class HoldsQuestions(Protocol):
    """A source of answered questions that can tell, cheaply and before anything is asked of it,
    that it holds the question itself (an FAQ entry, a thread asking it in nearly the same words).
    That is the strongest evidence any source can have, and a classifier trained on kinds of
    question cannot see it ("Who founded the company?" reads like an encyclopaedia question, and
    the FAQ that holds it would be asked last), so the engine asks such a source first."""

    def holds(self, question: Question) -> float:
        """The probability that the answer to a question held this way is right; 0.0 when no
        stored question is the question."""
        ...


@runtime_checkable
class Encoder(Protocol):
    """A sentence encoder shared across sources (passed in by the application, so sources need not
    import each other): L2-normalised float32 rows, inner product = cosine."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SpanReading(Protocol):
    """A span reader as another source uses it: community QA cuts short answers out of long ones,
    and asks how well each answer of a thread answers the thread's question (`read_batch` over
    (question, context) pairs, one batched pass)."""

    def read(self, question: str, context: str, *, top_k: int = 1) -> list[Answer]: ...

    def read_batch(self, requests: Sequence[tuple[str, str]], *, top_k: int = 1,
                  allow_no_answer: bool = True) -> list[list[Answer]]: ...


class PairJudging(Protocol):
    """A cross-encoder as community QA uses it: how well each answer answers its question (a logit,
    higher is better), the pairs read in batches."""

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


class Routing(_Model):
    """Why the answers came from where they did: the classifier's probabilities, the sources asked
    in order, the best score each gave, and a one-line reason."""

    chosen: Route
    forced: bool = False
    probabilities: dict[Route, float] = Field(default_factory=dict)
    asked: list[Route] = Field(default_factory=list)
    scores: dict[Route, float] = Field(default_factory=dict)
    failed: dict[Route, str] = Field(default_factory=dict,
                                   description="Sources that could not answer, and why (the others still did).")
    reason: str = ""


class Response(_Model):
    """What the engine returns for one question (the API's and `--json`'s response body)."""

    question: str
    rewritten: str | None = Field(None, description="The question as answered, when a follow-up was rewritten.")
    answers: list[Answer]
    routing: Routing
    timings: dict[str, float] = Field(default_factory=dict)
