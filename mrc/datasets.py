"""Loaders for the reader benchmarks: SQuAD JSON (v1.1 / v2.0) and RACE.

Files may be plain, `.gz` or `.xz` (the shared data ships compressed). Every structural problem
becomes a `DataFormatError` naming the file and the place (e.g. `data[3].paragraphs[0].qas[2]:
'answers' must be a list`), so a user sees what to fix instead of a KeyError traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.core.errors import DataFormatError, InputError
from qa.core.text import MAX_QUESTION_CHARS, json_of, parse_json, read_text

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LEVELS = ("middle", "high")

log = logging.getLogger(__name__)


def _need(obj: Any, key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise DataFormatError(f"{where}: expected an object, found {type(obj).__name__}")
    if key not in obj:
        raise DataFormatError(f"{where}: missing '{key}'")
    value = obj[key]
    if not isinstance(value, typ) or isinstance(value, bool) and typ is int:
        names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise DataFormatError(f"{where}: '{key}' must be {names}, found {type(value).__name__}")
    return value


# ---------------------------------------------------------------- SQuAD
@dataclass(frozen=True)
class SquadExample:
    qid: str
    question: str
    context: str
    answers: tuple[str, ...]  # empty for unanswerable (v2.0) questions
    answer_starts: tuple[int, ...]  # -1 for a gold text the context does not hold (an alternative wording)
    title: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers


@dataclass
class SquadDataset:
    """Examples in file order plus the raw `data` list that the official metrics read."""

    path: Path
    version: int  # 1 or 2
    data: list[dict[str, Any]]
    examples: list[SquadExample] = field(default_factory=list)

    def subset(self, limit: int | None) -> SquadDataset:
        """The first `limit` questions, with `data` pruned to match, so metrics over a slice are
        the official metrics of that slice (no missing-prediction zeros)."""
        if limit is None or limit >= len(self.examples):
            return self
        if limit < 1:
            raise InputError("--limit must be at least 1")
        keep = {e.qid for e in self.examples[:limit]}
        data = []
        for art in self.data:
            paras = []
            for p in art["paragraphs"]:
                qas = [qa for qa in p["qas"] if qa["id"] in keep]
                if qas:
                    paras.append({**p, "qas": qas})
            if paras:
                data.append({**art, "paragraphs": paras})
        return SquadDataset(self.path, self.version, data, self.examples[:limit])


def load_squad(path: str | Path, version: str | int = "auto") -> SquadDataset:
    """Load a SQuAD-format file. `version` "auto" reads the file's `version` field (a `v2.0`
    file, or any question marked `is_impossible`, means v2)."""
    p = Path(path)
    text = read_text(p)
    try:
        doc = parse_json(text, str(p))
    except DataFormatError as exc:
        if _race_lines(text):  # "invalid JSON at line 2, column 1: Extra data" said nothing useful
            raise DataFormatError(f"{p}: RACE questions (JSON lines with an 'article'), not a SQuAD file: it is "
                                  "for the multiple-choice reader (`qa eval race`, `qa train choice`; kind=race)"
                                  ) from exc
        raise
    if isinstance(doc, dict) and "data" not in doc and "article" in doc:
        raise DataFormatError(f"{p}: a RACE article, not a SQuAD file: it is for the multiple-choice reader "
                              "(`qa eval race`, `qa train choice`; kind=race)")
    data = _need(doc, "data", list, str(p))
    examples: list[SquadExample] = []
    seen: set[str] = set()
    any_impossible = False
    unanswered: list[str] = []  # no answers and no is_impossible: unanswerable in v2.0, an error in v1.1
    moved = 0
    for ai, art in enumerate(data):
        where_a = f"{p}: data[{ai}]"
        title = art.get("title", "") if isinstance(art, dict) else ""
        for pi, para in enumerate(_need(art, "paragraphs", list, where_a)):
            where_p = f"{where_a}.paragraphs[{pi}]"
            context = _need(para, "context", str, where_p)
            qas = _need(para, "qas", list, where_p)
            if qas and not context.strip():  # every question of it scored 0 without a word
                raise DataFormatError(f"{where_p}: the context is empty, and {len(qas)} question(s) ask about it")
            for qi, qa in enumerate(qas):
                where_q = f"{where_p}.qas[{qi}]"
                qid = _need(qa, "id", str, where_q)
                question = _need(qa, "question", str, where_q)
                if not question.strip():  # found now, not as a failed evaluation half-way
                    raise DataFormatError(f"{where_q}: the question {qid!r} is empty")
                if len(question.strip()) > MAX_QUESTION_CHARS:
                    raise DataFormatError(f"{where_q}: the question {qid!r} is {len(question.strip()):,} characters "
                                          f"long; the readers take at most {MAX_QUESTION_CHARS:,}")
                answers = _need(qa, "answers", list, where_q)
                if qid in seen:
                    raise DataFormatError(f"{where_q}: duplicate question id {qid!r}")
                seen.add(qid)
                texts, starts = [], []
                for ni, ans in enumerate(answers):
                    where_n = f"{where_q}.answers[{ni}]"
                    texts.append(_need(ans, "text", str, where_n))
                    start = answer_start(context, texts[-1], _need(ans, "answer_start", int, where_n), where_n,
                                         to_train=False)
                    moved += start not in (ans["answer_start"], -1)
                    starts.append(start)
                if impossible(qa, where_q):
                    any_impossible = True
                    texts, starts = [], []
                elif not texts:
                    unanswered.append(qid)
                examples.append(SquadExample(qid, question, context, tuple(texts), tuple(starts), str(title)))
    if not examples:
        raise DataFormatError(f"{p}: no questions found")
    if moved:
        log.warning("%s: %d answer(s) had an answer_start that does not point at their text; the nearest place "
                    "their text is found in the context is used", p, moved)
    found = _version(doc, version, any_impossible, p)
    if found == 1 and (unanswered or any_impossible):
        # v1.1 scoring has no "no answer": each such question would be counted wrong without a word
        if any_impossible:
            raise DataFormatError(f"{p} holds unanswerable questions (is_impossible), a SQuAD v2.0 file that v1.1 "
                                  "scoring would count wrong: score it as v2.0 (`qa eval squad` without --version)")
        raise DataFormatError(f"{p}: the question {unanswered[0]!r} has no answers ({len(unanswered)} in all), which "
                              "SQuAD v1.1 scoring would count wrong: mark them \"is_impossible\": true, or declare "
                              "\"version\": \"v2.0\" in the file (`qa eval squad --version 2` does the same)")
    return SquadDataset(p, found, data, examples)


def impossible(qa: dict[str, Any], where: str) -> bool:
    """SQuAD v2.0's flag, which must be a JSON true or false: the string "false" is truthy, and a
    truthiness test had read it as unanswerable, turning a v1.1 file into a v2.0 one."""
    flag = qa.get("is_impossible", False)
    if flag is None or isinstance(flag, bool):
        return bool(flag)
    raise DataFormatError(f"{where}: 'is_impossible' must be true or false, found {json.dumps(flag)[:40]}")


def answer_start(context: str, text: str, start: int, where: str, *, to_train: bool = True) -> int:
    """Where `text` starts in `context`: `start` when it points there, else the nearest place the
    text is found (offsets computed on bytes or before a cleanup are off by a few characters, and
    the official scorer never reads them). A text the context does not hold at all cannot be
    trained on (a span that is not there: a file that pairs answers with the wrong paragraph); to
    score against, it is a gold answer like any other (an alternative wording), placed nowhere (-1)."""
    if 0 <= start and context.startswith(text, start):
        return start
    places, at = [], context.find(text) if text else -1
    while at >= 0:
        places.append(at)
        at = context.find(text, at + 1)
    if not places:
        if not to_train:
            return -1  # no span: a gold text to compare with, never a place in the paragraph
        raise DataFormatError(f"{where}: the answer {text[:60]!r} is not in its paragraph's context")
    return min(places, key=lambda i: abs(i - start))


def _version(doc: dict[str, Any], requested: str | int, any_impossible: bool, path: Path) -> int:
    req = str(requested).lower().lstrip("v")
    if req in ("1", "1.1", "1.0"):
        return 1
    if req in ("2", "2.0"):
        return 2
    if req != "auto":
        raise InputError(f"unknown SQuAD version {requested!r}: use auto, 1 or 2")
    declared = str(doc.get("version", "")).lower().lstrip("v")
    if declared.startswith("2") or any_impossible:
        return 2
    if declared.startswith("1") or not declared:
        return 1
    raise DataFormatError(f"{path}: unknown SQuAD version {doc.get('version')!r}; pass --version 1 or 2")


# ---------------------------------------------------------------- RACE
@dataclass(frozen=True)
class RaceQuestion:
    qid: str
    article: str
    question: str
    options: tuple[str, ...]
    answer: int  # index into options
    level: str  # "middle", "high" or ""


def load_race(path: str | Path) -> list[RaceQuestion]:
    """RACE from a `.jsonl[.gz|.xz]` file (one article a line) or a folder of per-article JSON
    files (the original `dev/high/*.txt` layout; the level comes from the folder name)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    out: list[RaceQuestion] = []
    for where, article, level, name in _race_articles(p):
        out.extend(_race_questions(article, where, level, name))
    if not out:
        raise DataFormatError(f"{p}: no RACE questions found")
    other = sorted({q.level for q in out if q.level and q.level not in LEVELS})
    if other:
        log.warning("%s: %d question(s) of level %s, neither middle nor high: they count in 'all' only", p,
                    sum(q.level in other for q in out), ", ".join(map(repr, other[:3])))
    ids = [q.qid for q in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataFormatError(f"{p}: duplicate question id {dup!r}")
    return out


def _race_articles(p: Path) -> Iterator[tuple[str, Any, str, str]]:
    """(where, article, level from the folder, the id an article without one gets)."""
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in (".txt", ".json"))
        if not files:
            raise DataFormatError(f"{p}: no .txt or .json RACE files in this folder")
        for f in files:
            level = next((part for part in reversed(f.parent.parts) if part in LEVELS), "")
            # the path below the folder: RACE's own layout has a high/1.txt and a middle/1.txt
            yield str(f), parse_json(read_text(f), str(f)), level, f.relative_to(p).as_posix()
        return
    text = read_text(p)
    name = p.name.removesuffix(".gz").removesuffix(".xz")
    if name.endswith(".jsonl"):
        for ln, line in enumerate(text.split("\n"), 1):
            if line.strip():
                where = f"{p}, line {ln}"
                yield where, parse_json(line, where, line_of_file=True), "", f"{p.name}-line{ln}"
    else:
        try:
            doc = parse_json(text, str(p))
        except DataFormatError as exc:
            if _race_lines(text):  # JSON lines in a file not named .jsonl: "Extra data" said nothing useful
                raise DataFormatError(f"{p}: JSON lines (one RACE article a line): name the file .jsonl") from exc
            raise
        if isinstance(doc, dict) and "data" in doc and "article" not in doc:
            raise DataFormatError(f"{p}: a SQuAD file, not RACE: it is for the span reader (`qa eval squad`, "
                                  "`qa train span`; kind=squad)")
        for i, art in enumerate(doc if isinstance(doc, list) else [doc]):
            name = f"{p.name}[{i}]" if isinstance(doc, list) else p.name
            yield f"{p}[{i}]" if isinstance(doc, list) else str(p), art, "", name


def _race_lines(text: str) -> bool:
    """Whether `text` opens with a JSON line holding a RACE article."""
    first = text.lstrip().split("\n", 1)[0]
    try:
        obj = json_of(first)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser follows
        return False
    return isinstance(obj, dict) and "article" in obj


def _race_questions(article: Any, where: str, level: str, name: str) -> list[RaceQuestion]:
    text = _need(article, "article", str, where)
    if not text.strip():
        raise DataFormatError(f"{where}: the article is empty")
    questions = _need(article, "questions", list, where)
    options = _need(article, "options", list, where)
    answers = _need(article, "answers", list, where)
    if not len(questions) == len(options) == len(answers):
        raise DataFormatError(
            f"{where}: {len(questions)} questions, {len(options)} option lists and {len(answers)} answers "
            "(they must match)"
        )
    art_id = str(article.get("id") or name)
    lvl = article.get("level") or level
    if not isinstance(lvl, str):  # 5 or true had been a level of its own, counted in no figure
        raise DataFormatError(f"{where}: 'level' must be middle or high, found {json.dumps(lvl)[:40]}")
    lvl = lvl.strip().lower()  # "High" had dropped out of the per-level figures
    out = []
    for i, (q, opts, ans) in enumerate(zip(questions, options, answers, strict=True)):
        if not isinstance(q, str) or not q.strip():
            raise DataFormatError(f"{where}: questions[{i}] must be text, not empty")
        if len(q.strip()) > MAX_QUESTION_CHARS:
            raise DataFormatError(f"{where}: questions[{i}] is {len(q.strip()):,} characters long; the readers take "
                                  f"at most {MAX_QUESTION_CHARS:,}")
        if not isinstance(opts, list) or not 2 <= len(opts) <= len(LETTERS) or \
                not all(isinstance(o, str) and o.strip() for o in opts):
            raise DataFormatError(f"{where}: options[{i}] must be a list of 2 to {len(LETTERS)} texts, none empty")
        if not isinstance(ans, str) or len(ans) != 1 or LETTERS.find(ans) not in range(len(opts)):
            raise DataFormatError(f"{where}: answers[{i}] = {ans!r} is not one of {LETTERS[: len(opts)]!r}")
        out.append(RaceQuestion(f"{art_id}-{i}", text, q, tuple(opts), LETTERS.index(ans), lvl))
    return out


def race_levels(questions: Sequence[RaceQuestion]) -> dict[str, str]:
    return {q.qid: q.level for q in questions}
