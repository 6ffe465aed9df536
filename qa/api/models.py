"""Request and response bodies of the REST API.

The limits are part of the schema (OpenAPI shows them, clients see them before they send), so a
too-long question or a 10,000-turn history is refused with a 422 that names the field, before
any model runs. The answer shape is the engine's own (`qa.core.types.Response` / `Answer`): the
API adds nothing a CLI `--json` user would not see.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints, field_validator

from cqa.store import MAX_TEXT_CHARS, MAX_TITLE_CHARS
from qa.core.errors import InputError
from qa.core.settings import RouteChoice
from qa.core.text import MAX_QUESTION_CHARS, check_question
from qa.core.types import Answer

MAX_HISTORY_TURNS = 20
MAX_HISTORY_ANSWER_CHARS = 200_000  # the longest answer a thread may hold: clients send back what they got
MAX_CONTEXT_CHARS = 100_000
MAX_OPTIONS = 10
MAX_OPTION_CHARS = 1_000
MAX_DOCUMENTS = 100
MAX_DOCUMENT_CHARS = 1_000_000
MAX_METADATA_KEYS = 20
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
DOCUMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"
# what may be deleted: also the ids `qa index` gives files ("notes/Meeting notes.txt", any script)
# and JSON-lines ids; no control characters, no blank at either end
EXISTING_ID_PATTERN = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,510}[^\s\x00-\x1f\x7f])?$"

QuestionText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUESTION_CHARS)]
# a question filed as a thread is the thread's title, and the store holds shorter titles than may be asked
ThreadQuestion = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS)]
CollectionName = Annotated[str, StringConstraints(pattern=COLLECTION_PATTERN)]
ShortText = Annotated[str, StringConstraints(max_length=500)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Body):
    """One earlier turn of the conversation: what was asked and what was answered ("" for none)."""

    question: QuestionText
    answer: Annotated[str, StringConstraints(max_length=MAX_HISTORY_ANSWER_CHARS)] = ""

    @field_validator("question")
    @classmethod
    def _has_words(cls, value: str) -> str:
        try:
            return check_question(value)
        except InputError as exc:  # a 422 naming the turn, like any other field out of its limits
            raise ValueError(str(exc)) from None


class AskRequest(_Body):
    question: QuestionText = Field(examples=["When did he die?"])
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description="Earlier turns, oldest first; follow-ups are rewritten from them.",
                                examples=[[{"question": "Who wrote Hamlet?", "answer": "William Shakespeare"}]])
    route: RouteChoice | None = Field(None, description="auto (the router decides) or one source forced.")
    top_k: int | None = Field(None, ge=1, le=20, strict=True,  # `true` or "3" is a client's mistake, not 1 or 3
                              description="Answers returned; default: the server's setting.")
    collection: CollectionName | None = Field(
        None, description="Answer from this passage collection alone (no other source is asked).",
        examples=[None])  # the sample request of /docs asked a collection made up from the name's pattern

    def flat_history(self) -> tuple[str, ...]:
        out: list[str] = []
        for t in self.history:
            out.extend((t.question, t.answer))
        return tuple(out)


class ReadRequest(_Body):
    context: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTEXT_CHARS)]
    question: QuestionText
    options: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_OPTION_CHARS)]] | None = Field(
        None, max_length=MAX_OPTIONS, description="Two or more options: multiple choice; none: a span is extracted.")
    top_k: int = Field(1, ge=1, le=10, strict=True)


class ReadResponse(_Body):
    answers: list[Answer]
    timings: dict[str, float] = Field(default_factory=dict)


class DocumentIn(_Body):
    id: Annotated[str, StringConstraints(pattern=DOCUMENT_ID_PATTERN)] | None = Field(
        None, description="Stable id (for deleting it later); default: a new random id.")
    title: ShortText = ""
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DOCUMENT_CHARS)]
    source: ShortText = ""
    metadata: dict[Annotated[str, StringConstraints(max_length=64)],
                   Annotated[str, StringConstraints(max_length=500)] | int | FiniteFloat | bool] = Field(
        default_factory=dict, max_length=MAX_METADATA_KEYS)

    @field_validator("metadata", mode="before")
    @classmethod
    def _json_numbers(cls, value: Any) -> Any:
        # Python's JSON parser takes NaN and Infinity; stored, they read back as no JSON at all
        if isinstance(value, dict) and any(isinstance(v, float) and not math.isfinite(v) for v in value.values()):
            raise ValueError("holds NaN or Infinity, which are no JSON numbers: give a finite number")
        return value

    @field_validator("id", "title", "text", "source", "metadata")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # a stored passage is read back by tools that end a string at U+0000 (as `qa index` refuses it)
        texts = [*value, *value.values()] if isinstance(value, dict) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("holds a NUL character (U+0000)")
        return value


class AddDocumentsRequest(_Body):
    collection: CollectionName = Field(examples=["notes"])
    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_DOCUMENTS)


class AddDocumentsResponse(_Body):
    collection: str
    documents: list[str] = Field(description="The ids of the documents added, in order.")
    passages: int = Field(description="Passages (chunks) added; searchable now.")


class DeleteDocumentResponse(_Body):
    collection: str
    document: str
    passages: int


class SearchRequest(_Body):
    query: QuestionText
    k: int = Field(5, ge=1, le=50, strict=True)
    collection: CollectionName | None = None


class PassageOut(_Body):
    id: str
    title: str
    text: str
    source: str
    collection: str
    score: float


class SearchResponse(_Body):
    passages: list[PassageOut]


class CollectionsResponse(_Body):
    collections: list[str]


class Health(_Body):
    status: Literal["ok", "starting"]
    version: str
    routes: list[str]
    ready: dict[str, bool] = Field(description="Each source: loaded and answering (false while its last "
                                               "question failed because it is down).")
    failing: dict[str, str] = Field(default_factory=dict, description="Sources that loaded but whose last "
                                    "question, in the last five minutes, failed because they are down (an "
                                    "endpoint that stopped answering): the error's type. The next answer from "
                                    "one clears it.")
    left_out: list[str] = Field(default_factory=list, description="Passage collections left out of every "
                                "search because their files no longer read (the server's log says why); the "
                                "others are answered from. Rebuilding one brings it back.")
    queue: int
    in_flight: int


class JobState(_Body):
    id: str
    kind: Literal["squad", "race"]
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    file: str
    done: int = 0
    total: int = 0
    progress: float = Field(0.0, ge=0.0, le=1.0)
    metrics: dict[str, float] = Field(default_factory=dict)
    predictions: dict[str, str] = Field(default_factory=dict)
    na_probs: dict[str, float] = Field(default_factory=dict, description="SQuAD v2.0: each question's probability "
                                       "of having no answer (the official script's --na-prob-file).")
    error: str = ""
    seconds: float = 0.0


class ThreadIn(_Body):
    """A question for the community-QA store, optionally with its answer."""

    question: ThreadQuestion = Field(description="The question (the thread's title).")
    # the store's limits, as for `qa cqa add` and imports (an answer of 30,000 characters filed there
    # was a 422 here)
    body: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] = ""
    answer: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)] | None = None
    accepted: bool = Field(True, strict=True)  # "yes" or "1" is not taken for true
    tags: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=20)


class AcceptedAnswerIn(_Body):
    """An answer a user accepted for their question (the UI's "this answered it" button)."""

    question: ThreadQuestion
    # as long as a stored answer may be: the UI files a matched thread's whole answer, which an
    # import may have stored at up to this length (at 20,000 the button failed with 422 for it)
    answer: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]


class ThreadOut(_Body):
    thread_id: str
    answer_id: str | None = Field(None, description="The answer filed with it, if any (to accept another later).")


class AnswerIn(_Body):
    """An answer to a stored thread."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
    accepted: bool = Field(False, strict=True, description="Make it the thread's accepted answer (the one shown).")
    votes: int | None = Field(None, strict=True, ge=-1_000_000, le=1_000_000)


class AcceptIn(_Body):
    answer_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AnswerOut(_Body):
    thread_id: str
    answer_id: str


class StoredAnswerOut(_Body):
    answer_id: str
    text: str
    accepted: bool = Field(description="The thread's accepted answer: the one shown.")
    votes: int | None = None
    created: str = ""
    author: str = ""


class ThreadDetail(_Body):
    """A stored thread whole, every answer with its id (to accept or delete one)."""

    thread_id: str
    source: str
    question: str
    body: str = ""
    tags: list[str] = Field(default_factory=list)
    url: str = ""
    created: str = ""
    answers: list[StoredAnswerOut] = Field(default_factory=list)


class ThreadList(_Body):
    threads: list[ThreadDetail] = Field(description="The threads stored latest first.")


class ThreadDeleted(_Body):
    thread_id: str
    answer_id: str | None = Field(None, description="The answer deleted; absent when the whole thread was.")
    answers: int = Field(description="How many answers went.")


class ErrorDetail(_Body):
    type: str = Field(description="bad_request, input_error, validation_error, data_format_error, not_found, "
                                  "conflict (an id taken, a job that has ended), unauthorized, forbidden, "
                                  "method_not_allowed, not_acceptable, too_large, unsupported_media_type, "
                                  "too_many_requests, "
                                  "client_gone (499: the client left while its request waited), "
                                  "busy (the thread store is being written), overloaded, timeout, config_error, "
                                  "model_not_found, source_unavailable (a source whose graph, passages, store or model "
                                  "did not load), graph_error (the graph refused a query), graph_unavailable "
                                  "(the graph cannot be asked), source_error (500: a source of one's own answered "
                                  "outside the answer-source interface), internal_error")
    message: str
    fields: list[str] = Field(default_factory=list, description="For validation errors: the offending fields.")


class ErrorBody(_Body):
    error: ErrorDetail
