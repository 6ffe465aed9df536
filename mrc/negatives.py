"""Unanswerable training questions made from answerable ones, without any model.

SQuAD 2.0's unanswerable questions were written by people to look answerable: they ask about the
paragraph's own subject, with one detail changed (another entity, a number, a negation, an
antonym), so a plausible answer of the right type sits in the paragraph. A reader trained only on
questions moved to another paragraph learns a shortcut (little word overlap -> no answer) and
then abstains on every passage that words things differently. Four kinds are built here, each
paired with a paragraph, labelled "no answer":

- swap: one entity, number or date of the question replaced by another of the same kind from the
  same paragraph or article (Gautam, Zhang and Klakow 2023, arXiv 2310.19403, found these as good
  as model-generated unanswerables); the original paragraph is kept;
- antonym / negation: "first" -> "last", "largest" -> "smallest", or "not" after the question's
  auxiliary verb ("When did X win" -> "When did X not win"); original paragraph kept;
- answer removed: the question's own paragraph minus every sentence that holds the answer;
- other paragraph: another paragraph of the same article without the answer (easy, kept as a
  minority so the reader still learns that an off-topic passage holds no answer).

Kinds are closed (`NegativeKind`) and every function is deterministic given its `random.Random`.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from dataclasses import Field, dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar


class Example(Protocol):
    """The fields of a training question that the generators read (`mrc.train_span.SpanExample`); a
    dataclass, so that its unanswerable twins are made with `dataclasses.replace`."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    qid: str
    question: str
    context: str
    answer_start: int
    answer_text: str
    article: int


E = TypeVar("E", bound=Example)


class NegativeKind(StrEnum):
    SWAP = "swap"
    ANTONYM = "antonym"
    ANSWER_REMOVED = "answer_removed"
    OTHER_PARAGRAPH = "other_paragraph"


@dataclass(frozen=True)
class NegativeMix:
    """Per answerable question, the chance of trying each kind (each tried independently; a kind that
    finds nothing to change adds nothing)."""

    swap: float = 0.0
    antonym: float = 0.0
    answer_removed: float = 0.0
    other_paragraph: float = 0.0

    def __post_init__(self) -> None:
        for name, v in self.__dict__.items():
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"negative mix: {name} must lie between 0 and 1, not {v}")


# The recipe of the second GPU round: unanswerables that look like SQuAD 2.0's are the majority,
# other-paragraph ones a minority.
ADVERSARIAL_MIX = NegativeMix(swap=0.45, antonym=0.2, answer_removed=0.3, other_paragraph=0.12)

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "date": re.compile(rf"\b(?:\d{{1,2}} {_MONTH}(?: \d{{4}})?|{_MONTH} \d{{1,2}}(?:, \d{{4}})?|{_MONTH} \d{{4}})\b"),
    "year": re.compile(r"\b(?:1[0-9]|20)\d\d(?:s)?\b"),
    "percent": re.compile(r"\b\d+(?:[.,]\d+)?(?: ?%| percent)"),
    "number": re.compile(r"\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b|\b\d+(?:\.\d+)?\b"),
    "proper": re.compile(r"\b[A-Z][\w'\-.]*[a-z0-9][\w'\-]*"
                         r"(?:\s+(?:of|the|de|von|van|and|for|la|du)?\s*[A-Z][\w'\-]*)*"),
}
# capitalised words that are not names: question words, auxiliaries and the commonest openers
_NOT_NAMES = frozenset(
    "what which who whom whose when where why how is was are were do does did can could has have had will "
    "would should may might in on at of for by the a an this that these those it its after before during "
    "since from to with as if according besides other another some many much one two three i".split()
)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]['\")]*)\s*$")
_ORDER = ("date", "year", "percent", "number", "proper")


@functools.lru_cache(maxsize=8192)
def _mentions(text: str) -> tuple[tuple[str, int, int], ...]:
    """(kind, start, end) of the entity-like spans of `text`, longest kind first, none overlapping.
    A lone capitalised word opening a sentence is no name ("Around 1900, ..."); cached, since a
    paragraph and its article are searched once per question on them."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[str, int, int]] = []
    for kind in _ORDER:
        for m in _PATTERNS[kind].finditer(text):
            s, e = m.span()
            if kind == "proper":
                words = [(w.start() + s, w.end() + s) for w in re.finditer(r"\S+", m.group())]
                while words and text[words[0][0]:words[0][1]].lower() in _NOT_NAMES:  # "What Beyonce"
                    words = words[1:]
                if not words or len(words) == 1 and (words[0][0] == 0 or _SENTENCE_START.search(text, 0, words[0][0])):
                    continue
                s = words[0][0]
            if any(s < b and a < e for a, b in taken):
                continue
            taken.append((s, e))
            found.append((kind, s, e))
    return tuple(found)


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def swap_negative(ex: Example, pool_text: str, rng: random.Random) -> str | None:
    """The question with one entity-like span replaced by another of the same kind found in
    `pool_text` (its paragraph first, else its article), or None when nothing fits. The replacement
    differs from the original, neither holds the other, it is not the answer and not already in
    the question, so the new question asks about something else of the same type."""
    q = ex.question
    spans = list(_mentions(q))
    rng.shuffle(spans)
    answer = _norm(ex.answer_text)
    pool = _mentions(pool_text)
    for kind, s, e in spans:
        original = _norm(q[s:e])
        options = sorted({pool_text[a:b] for k, a, b in pool if k == kind})
        options = [o for o in options
                   if (n := _norm(o)) != original and n not in original and original not in n
                   and n != answer and answer not in n and n not in _norm(q)]
        if options:
            return q[:s] + rng.choice(options) + q[e:]
    return None


_ANTONYMS: dict[str, str] = {}
for _a, _b in [
    ("first", "last"), ("largest", "smallest"), ("biggest", "smallest"), ("highest", "lowest"),
    ("most", "least"), ("before", "after"), ("earliest", "latest"), ("longest", "shortest"),
    ("oldest", "newest"), ("older", "younger"), ("best", "worst"), ("better", "worse"), ("more", "fewer"),
    ("increase", "decrease"), ("increased", "decreased"), ("rise", "fall"), ("rose", "fell"),
    ("north", "south"), ("northern", "southern"), ("east", "west"), ("eastern", "western"),
    ("won", "lost"), ("win", "lose"), ("maximum", "minimum"), ("major", "minor"), ("positive", "negative"),
    ("public", "private"), ("male", "female"), ("men", "women"), ("inside", "outside"), ("start", "end"),
    ("started", "ended"), ("begin", "end"), ("began", "ended"), ("open", "closed"), ("opened", "closed"),
    ("accepted", "rejected"), ("allowed", "banned"), ("success", "failure"), ("successful", "unsuccessful"),
    ("legal", "illegal"), ("above", "below"), ("upper", "lower"), ("early", "late"), ("strongest", "weakest"),
    ("richest", "poorest"), ("cheapest", "most expensive"), ("fastest", "slowest"), ("top", "bottom"),
    ("supported", "opposed"), ("support", "oppose"), ("gained", "lost"), ("entered", "left"),
    ("import", "export"), ("imported", "exported"), ("maximum", "minimum"), ("same", "different"),
]:
    _ANTONYMS.setdefault(_a, _b)
    _ANTONYMS.setdefault(_b, _a)
_ANTONYM_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _ANTONYMS), key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)
_DO_RE = re.compile(r"\b(did|does|do|can|could|will|would|should)\s+(?!not\b)", re.IGNORECASE)
_BE_RE = re.compile(r"\b(is|was|are|were|has|have|had)\s+(?!not\b)(?=[a-z]+(?:ed|en)\b)", re.IGNORECASE)
_DETERMINERS = frozenset("the a an his her its their this that these those some".split())


def _cased(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


def _negated(q: str) -> str | None:
    """ "not" where English puts it: before the verb after "did"/"can"/... and their subject
    ("When did the band release" -> "When did the band not release"), or between "was"/"has" and a
    participle ("What was founded" -> "What was not founded"); None where neither shape is found."""
    if (m := _BE_RE.search(q)) and m.start() > 0:
        return q[: m.end()] + "not " + q[m.end():]
    m = _DO_RE.search(q)
    if m is None or m.start() == 0:
        return None
    words = list(re.finditer(r"\S+", q[m.end():]))
    i = 0
    if i < len(words) and words[i].group().lower() in _DETERMINERS:
        i += 2
    while i < len(words) and words[i].group()[:1].isupper():
        i += 1
    i = max(i, 1)
    if i >= len(words) or not words[i].group()[:1].islower():
        return None
    at = m.end() + words[i].start()
    return q[:at] + "not " + q[at:]


def antonym_negative(ex: Example, rng: random.Random) -> str | None:
    """The question with one word turned into its antonym, else negated (`_negated`); None when
    neither applies."""
    q = ex.question
    hits = [m for m in _ANTONYM_RE.finditer(q) if _norm(m.group()) not in _norm(ex.answer_text)]
    if hits:
        m = rng.choice(hits)
        return q[: m.start()] + _cased(_ANTONYMS[m.group().lower()], m.group()) + q[m.end():]
    return _negated(q)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def answer_removed_context(ex: Example) -> str | None:
    """The paragraph minus every sentence holding the answer, when enough is left to read."""
    needle = ex.answer_text.lower().strip()
    if not needle:
        return None
    kept = [sent for sent in _SENTENCE_END.split(ex.context) if needle not in sent.lower()]
    rest = " ".join(kept)
    if len(kept) < 2 or len(rest) < 150 or needle in rest.lower():
        return None
    return rest


def make_negatives(examples: Sequence[E], mix: NegativeMix, rng: random.Random) -> list[E]:
    """Unanswerable twins of the answerable `examples` (ids suffixed by kind), in input order."""
    paragraphs: dict[int, list[str]] = {}
    for ex in examples:
        paras = paragraphs.setdefault(ex.article, [])
        if not paras or paras[-1] != ex.context:
            paras.append(ex.context)
    article_text = {a: "\n".join(p) for a, p in paragraphs.items()}
    out: list[E] = []
    for ex in examples:
        if ex.answer_start < 0:
            continue
        unanswerable = {"answer_start": -1, "answer_text": ""}
        if mix.swap and rng.random() < mix.swap:
            q = swap_negative(ex, ex.context, rng) or swap_negative(ex, article_text[ex.article], rng)
            if q:
                out.append(replace(ex, qid=f"{ex.qid}-{NegativeKind.SWAP}", question=q, **unanswerable))
        if mix.antonym and rng.random() < mix.antonym:
            q = antonym_negative(ex, rng)
            if q:
                out.append(replace(ex, qid=f"{ex.qid}-{NegativeKind.ANTONYM}", question=q, **unanswerable))
        if mix.answer_removed and rng.random() < mix.answer_removed:
            ctx = answer_removed_context(ex)
            if ctx:
                out.append(replace(ex, qid=f"{ex.qid}-{NegativeKind.ANSWER_REMOVED}", context=ctx, **unanswerable))
        if mix.other_paragraph and rng.random() < mix.other_paragraph:
            needle = ex.answer_text.lower()
            pool = [p for p in paragraphs[ex.article] if p != ex.context and needle not in p.lower()]
            if pool:
                out.append(replace(ex, qid=f"{ex.qid}-{NegativeKind.OTHER_PARAGRAPH}", context=rng.choice(pool),
                                   **unanswerable))
    return out


def kind_of(qid: str) -> NegativeKind | None:
    """The kind of a generated unanswerable question, from its id; None for a real question."""
    for kind in NegativeKind:
        if qid.endswith(f"-{kind}"):
            return kind
    return None
