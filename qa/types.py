"""Core types shared by every answer source, so the CLI, the API and the UI render one shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Route = Literal["webqa", "kbqa", "cqa", "reader"]


@dataclass(frozen=True)
class Question:
    """A user question; `history` carries earlier chat turns for routers that use context."""

    text: str
    history: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from qa.validation import check_question

        check_question(self.text)


@dataclass
class Answer:
    """One ranked answer.

    `score` is calibrated to [0, 1] so answers from different sources can be compared;
    `start`/`end` are character offsets into `evidence` (the source text) when the answer
    is a span, so a UI can highlight exactly what the reader extracted. A "no answer"
    result is explicit (`no_answer=True`), never an empty string.
    """

    text: str
    score: float
    route: Route
    source_id: str | None = None
    start: int | None = None
    end: int | None = None
    evidence: str | None = None
    title: str | None = None
    no_answer: bool = False
    raw_score: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def none(cls, route: Route, score: float, **kw: Any) -> Answer:
        return cls(text="", score=score, route=route, no_answer=True, **kw)
