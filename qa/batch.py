"""Many questions from a file (`qa ask --file`), answered by the same engine as one question.

The file is read and checked whole before the first question is asked, so a malformed line is
one error naming it, not an interruption half-way. A question the engine refuses (empty, too
long, no words), whose graph query fails or runs out of time, or that meets a store busy with an
import does not stop the others: its line carries the error instead of answers. What would
refuse every line (options that do not go together, an index built with another encoder, a graph
that cannot be asked at all) ends the run at once, with exit code 2. Answers stream to standard
output as JSON lines, in the file's order; `--out` writes each to `<out>.partial` as it comes and
renames that onto the file once all are in, so a run killed outright keeps what it answered
there; one interrupted says so, and leaves them under the file's name (or, beside an earlier
run's file, as `<out>.partial`, never over it). Where the file cannot be written, the answers
from there on are printed instead, so an answer already paid for is never lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.api.models import AskRequest
from qa.core.errors import BusyError, DataFormatError, InputError, NotFoundError, QAError, error_type_of
from qa.core.text import counted, json_of
from qa.core.types import Question, Response

MAX_QUESTIONS = 1_000_000
MAX_FILE_CHARS = 200_000_000  # a compressed file can unpack to far more than any list of questions


@dataclass(frozen=True)
class Asked:
    """A line's question and what the line asks besides: the fields of a `/v1/ask` body
    (`history`, `route`, `top_k`, `collection`), each overriding the command's option."""

    id: str
    question: str
    history: tuple[str, ...] = ()
    route: str | None = None
    top_k: int | None = None
    collection: str | None = None


def read_questions(path: Path | str) -> list[Asked]:
    """The questions of a `.txt` (one a line; blank lines skipped) or `.jsonl` file (an object a
    line with "question", an optional "id", and optionally what a `/v1/ask` body may add: "history",
    "route", "top_k", "collection"); "-" reads standard input. A CSV file or a JSON
    array is refused by name: read a line at a time, its header and rows were asked as questions.
    Ids default to the line number; an id used twice is refused (answers are matched back to questions by it)."""
    from qa.core.text import decode_utf8, json_lines, read_text

    plain = str(path).lower().removesuffix(".gz").removesuffix(".xz").removesuffix(".bz2")
    if plain.endswith((".csv", ".tsv")):  # its header and every row would be asked as questions
        raise InputError(f"{path}: questions are read from a .txt file (one a line) or a .jsonl file (an "
                         '{"id": ..., "question": ...} object a line), not from CSV or TSV')
    if str(path) == "-":
        raw = sys.stdin.buffer.read(MAX_FILE_CHARS * 4 + 4)
        if len(raw) > MAX_FILE_CHARS * 4:
            raise InputError(f"standard input is longer than the limit of {MAX_FILE_CHARS:,} characters")
        name, text = "standard input", decode_utf8(raw, "standard input (the questions)")
    else:
        name, text = str(path), read_text(path, max_chars=MAX_FILE_CHARS)
    if "\r" in text and "\n" not in text:  # old Mac line ends: every question was one, run together
        text = text.replace("\r", "\n")
    if not plain.endswith((".txt", ".text", ".md")) and text.lstrip().startswith("[") and _is_json_array(text):
        raise InputError(f"{name}: a JSON array; give JSON lines instead, one "
                         '{"id": ..., "question": ...} object a line')
    # by its name; a name that says neither (standard input, "questions") by what it holds
    jsonl = plain.endswith((".jsonl", ".json", ".ndjson")) or (
        not plain.endswith((".txt", ".text", ".md")) and text.lstrip().startswith("{"))
    out: list[Asked] = []
    seen: set[str] = set()
    numbered: dict[str, int] = {}  # ids that are line numbers (the line gave none)
    unread: set[str] = set()  # fields no line is read by
    if jsonl:
        rows = json_lines(text, name, "question")
    else:
        rows = ((n, {"question": _plain_line(line.strip(), name, n)})
                for n, line in enumerate(text.split("\n"), 1) if line.strip())
    for lineno, obj in rows:
        raw_id = obj.get("id", lineno)
        if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
            raise DataFormatError(f'{name}:{lineno}: "id" must be a string or a whole number, not {raw_id!r:.40}')
        qid, question = str(raw_id), obj["question"]
        if qid in seen:
            if "id" not in obj:  # the line number stood in for an id another line gives itself
                raise DataFormatError(f"{name}:{lineno}: this line has no id, and its line number {qid!r} is "
                                      "another question's id: give it an id of its own")
            if qid in numbered:
                raise DataFormatError(f"{name}:{lineno}: the id {qid!r} is also line {numbered[qid]}'s line number, "
                                      "its id as that line has none: give that line an id")
            raise DataFormatError(f"{name}:{lineno}: the id {qid!r} is used twice")
        seen.add(qid)
        if "id" not in obj:
            numbered[qid] = lineno
        out.append(_asked(qid, question, obj, f"{name}:{lineno}"))
        unread.update(k for k in obj if k not in LINE_FIELDS)
        if len(out) > MAX_QUESTIONS:
            raise InputError(f"{name}: more than {MAX_QUESTIONS:,} questions; split the file")
    if not out:
        raise InputError(f"{name}: no questions in it")
    if unread:  # said, not refused: a file's own fields ("expected") are no mistake
        import logging

        logging.getLogger("qa").warning("%s: the field(s) %s are not read (a line may give %s)", name,
                                        ", ".join(sorted(unread)[:5]) + (", …" if len(unread) > 5 else ""),
                                        ", ".join(LINE_FIELDS))
    return out


LINE_FIELDS = ("id", *AskRequest.model_fields)  # what a line may give: a `/v1/ask` body, and an id


def _asked(qid: str, question: str, obj: dict[str, Any], where: str) -> Asked:
    """The line's fields of a `/v1/ask` body, checked as the API checks them: a line that looks like
    a request body had its route, history and collection dropped without a word, and was answered
    as if it held the question alone. Other fields (a file's "expected" answer, its notes) are the
    file's own and left alone (`read_questions` names them once). The question itself is checked
    when it is asked, so a bad one refuses its line only."""
    from pydantic import ValidationError

    asked = {k: v for k, v in obj.items() if k in LINE_FIELDS and k not in ("id", "question")}
    if not asked:
        return Asked(qid, question)
    try:
        body = AskRequest.model_validate({"question": "?", **asked})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise DataFormatError(f'{where}: "{field}": {first["msg"]}') from None
    return Asked(qid, question, body.flat_history(), str(body.route) if body.route else None, body.top_k,
                 body.collection)


def _is_json_array(text: str) -> bool:
    try:
        return isinstance(json_of(text), list)
    except ValueError:
        return False


def _plain_line(line: str, name: str, lineno: int) -> str:
    """A line of a file read as one question a line; a JSON question record among them is refused
    (it was asked as its own text, and its id lost), as a plain line among JSON lines is."""
    if line.startswith("{") and line.endswith("}"):
        try:
            obj = json_of(line)
        except ValueError:
            return line
        if isinstance(obj, dict) and "question" in obj:
            raise DataFormatError(f"{name}:{lineno}: a JSON question in a file read as one question a line: "
                                  "give JSON lines, every line one, in a .jsonl file")
    return line


class _Journal:
    """Answers written as they come to `<out>.partial` (beside the file a link names), renamed onto
    `out` once all are in: a run killed, out of memory or with its machine gone keeps every answer
    given so far there, and no run holds its answers in memory. The `.partial` is made new
    (never one already there: an earlier run's answers, the question file itself, a link planted
    there, or a run writing it now); where it cannot be written (a full disk), a line cut short is
    taken back and the answers from there on are printed to standard output, and said so."""

    def __init__(self, out: Path) -> None:
        real = Path(os.path.realpath(out)) if out.is_symlink() and os.path.isfile(out) else out
        self.out, self.target = out, real
        self.part = real.with_name(real.name + ".partial")
        self.written = self.printed = self._size = 0
        self.failure: OSError | None = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            self._fd: int | None = os.open(self.part, flags, 0o666)
        except FileExistsError:
            raise InputError(f"{self.part} is there already: the answers of a run that stopped (or of one still "
                             "running); move it or delete it, then run again") from None
        except OSError as exc:
            raise InputError(f"cannot write {self.part} ({exc.strerror or exc})") from None

    def _put(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def write(self, line: str) -> None:
        if self._fd is not None:
            data = (line + "\n").encode("utf-8")
            try:
                self._put(data)
                self._size += len(data)
                self.written += 1
                return
            except OSError as exc:
                self.failure = exc
                with contextlib.suppress(OSError):  # a line cut short is no JSON: taken back
                    os.ftruncate(self._fd, self._size)
                self._close()
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        self.printed += 1

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def finish(self, keep_beside: bool = False) -> Path | None:
        """Move the answers onto `out` (or leave them in `<out>.partial` when `keep_beside`: an
        earlier run's file is never replaced by part of this one); the file now holding them."""
        from qa.core.atomic import fsync_dir

        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            if not self.written:
                self.part.unlink(missing_ok=True)
                return None
            if keep_beside or self.failure is not None:
                return self.part
            if self.target.exists():  # the answers file keeps the mode it had
                os.chmod(self.part, self.target.stat().st_mode & 0o777)
            os.replace(self.part, self.target)
            fsync_dir(self.target.parent)
            return self.out
        except OSError as exc:
            self.failure = self.failure or exc
            return self.part if self.part.exists() else None

    def failed(self) -> InputError | None:
        if self.failure is None:
            return None
        return InputError(f"cannot write {self.part} ({self.failure.strerror or self.failure}); "
                          + (f"the first {self.written:,} answers are in it, " if self.written else "")
                          + f"the other {self.printed:,} were printed to standard output instead")


@dataclass(frozen=True)
class Record:
    """One question's outcome: the engine's response, or the error that refused the question."""

    asked: Asked
    response: Response | None = None
    error: QAError | None = None

    @property
    def outcome(self) -> str:
        if self.response is None:
            return "refused"
        answers = self.response.answers
        return "no answer" if answers and answers[0].no_answer else "answered"

    def json_line(self, ascii_only: bool = False) -> str:
        if self.response is None:
            assert self.error is not None  # a record holds a response or the error that refused it
            record: dict[str, Any] = {"id": self.asked.id, "question": self.asked.question,
                                      "error": {"type": error_type_of(self.error),
                                                "message": str(self.error)}}
        else:
            record = {"id": self.asked.id, **self.response.model_dump(mode="json")}
        return json.dumps(record, ensure_ascii=ascii_only)


def answer_all(engine: Any, questions: list[Asked], *, top_k: int | None = None,
               collection: str | None = None) -> Iterator[Record]:
    """One record per question, in order: the response, or the error that refused it."""
    limit = engine.settings.max_question_chars
    for q in questions:
        try:
            question = Question(q.question, history=q.history, collection=q.collection or collection, max_chars=limit)
        except InputError as exc:  # this question, not the run: its line says why
            yield Record(q, error=exc)
            continue
        try:
            resp = engine.ask(question, top_k=q.top_k or top_k, route=q.route)
        except QAError as exc:
            # a graph query that ran out of time or failed, a store busy with an import: this
            # question alone; anything else the engine refuses (a route and a collection that do not
            # go together, an index built with another encoder, a graph that cannot be asked at all)
            # would refuse every line: it ends the run, unless the line asked for something of its own
            # (a route, a collection, history), which may be what is refused
            own = q.route not in (None, "auto") or q.collection or q.history
            if not own and exc.error_type not in ("timeout", "graph_error") and not isinstance(exc, BusyError):
                raise
            yield Record(q, error=exc)
            continue
        yield Record(q, response=resp)


def ask_file(engine: Any, path: Path, out: Path | None, *, top_k: int | None = None,
             collection: str | None = None) -> None:
    """`qa ask --file`: answers as JSON lines on standard output, or in `out`; a progress bar and
    a summary on standard error."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from qa.commands import check_apart, check_writable
    from qa.core.progress import LoggedProgress
    from qa.render import writes_unicode

    check_apart(Path(path), {"--out": out})
    questions = read_questions(path)
    check_writable(out)
    had_out = out is not None and out.exists()  # an earlier run's answers: part of this one never replaces them
    err = Console(stderr=True)
    counts = {"answered": 0, "no answer": 0, "refused": 0}
    if collection is not None and engine.settings.route in ("auto", "webqa"):  # a name no collection has
        # refuses every line: said before the first (with another route forced, that is what is said)
        try:
            known = engine.collections()
        except QAError:  # no passage source here: the first question says what is wrong
            known = []
        if known and collection not in known:
            raise NotFoundError(f"no collection named {collection!r}; known: {', '.join(known)}")
    journal = _Journal(out) if out is not None else None
    try:
        with LoggedProgress(TextColumn("answering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("answering", total=len(questions))
            for record in answer_all(engine, questions, top_k=top_k, collection=collection):
                line = record.json_line(ascii_only=journal is None and not writes_unicode(sys.stdout))
                if journal is None:
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
                else:
                    journal.write(line)
                counts[record.outcome] += 1
                bar.advance(task)
    except BaseException as exc:  # Ctrl-C, a failing source: what was answered is kept
        if journal is None:
            if sum(counts.values()) or isinstance(exc, KeyboardInterrupt):  # an error before any answer: all to say
                err.print(f"stopped after {sum(counts.values()):,} of {len(questions):,} questions; their answers "
                          "are on standard output", markup=False, highlight=False)
        else:
            held = journal.finish(keep_beside=had_out)
            failed = journal.failed()
            if failed is not None:
                err.print(f"error: {failed}", markup=False, highlight=False)
            if held is not None:
                n = journal.written
                err.print(f"stopped after {sum(counts.values()):,} of {len(questions):,} questions; "
                          f"{'their' if n == sum(counts.values()) else f'{n:,} of their'} answers are in {held}"
                          + (f" ({out} is the earlier run's, untouched)" if had_out and held != out else ""),
                          markup=False, highlight=False)
        raise
    if journal is not None:
        journal.finish()
        failed = journal.failed()
        if failed is not None:
            raise failed
    where = f" -> {out}" if out is not None else ""
    err.print(f"{counted(len(questions), 'question')}: {counts['answered']:,} answered, "
              f"{counts['no answer']:,} no answer, "
              f"{counts['refused']:,} refused{where}", markup=False, highlight=False)
