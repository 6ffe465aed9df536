"""Loaders for the reader benchmarks: SQuAD JSON (v1.1 / v2.0) and RACE.

Files may be plain, `.gz` or `.xz` (the shared data ships compressed). Every structural problem
becomes a `DataFormatError` naming the file and the place (e.g. `data[3].paragraphs[0].qas[2]:
'answers' must be a list`), so a user sees what to fix instead of a KeyError traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.core.errors import DataFormatError, InputError
from qa.core.text import MAX_QUESTION_CHARS, parse_json, read_text

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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
    answer_starts: tuple[int, ...]
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
                    starts.append(_need(ans, "answer_start", int, where_n))
                if qa.get("is_impossible"):
                    any_impossible = True
                    texts, starts = [], []
                examples.append(SquadExample(qid, question, context, tuple(texts), tuple(starts), str(title)))
    if not examples:
        raise DataFormatError(f"{p}: no questions found")
    return SquadDataset(p, _version(doc, version, any_impossible, p), data, examples)


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
    for where, article, level in _race_articles(p):
        out.extend(_race_questions(article, where, level))
    if not out:
        raise DataFormatError(f"{p}: no RACE questions found")
    ids = [q.qid for q in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataFormatError(f"{p}: duplicate question id {dup!r}")
    return out


def _race_articles(p: Path) -> Iterator[tuple[str, Any, str]]:
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in (".txt", ".json"))
        if not files:
            raise DataFormatError(f"{p}: no .txt or .json RACE files in this folder")
        for f in files:
            level = next((part for part in reversed(f.parent.parts) if part in ("middle", "high")), "")
            yield str(f), parse_json(read_text(f), str(f)), level
        return
    text = read_text(p)
    name = p.name.removesuffix(".gz").removesuffix(".xz")
    if name.endswith(".jsonl"):
        for ln, line in enumerate(text.split("\n"), 1):
            if line.strip():
                yield f"{p}, line {ln}", parse_json(line, f"{p}, line {ln}", line_of_file=True), ""
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
            yield f"{p}[{i}]" if isinstance(doc, list) else str(p), art, ""


def _race_lines(text: str) -> bool:
    """Whether `text` opens with a JSON line holding a RACE article."""
    first = text.lstrip().split("\n", 1)[0]
    try:
        obj = json.loads(first)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser follows
        return False
    return isinstance(obj, dict) and "article" in obj


def _race_questions(article: Any, where: str, level: str) -> list[RaceQuestion]:
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
    # without an id: the file's name, and the line in a .jsonl (one article a line, each its own)
    line = where.rsplit(", line ", 1)[1] if ", line " in where else ""
    art_id = str(article.get("id") or Path(where.split(",")[0]).name + (f"-line{line}" if line else ""))
    lvl = str(article.get("level") or level)
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
