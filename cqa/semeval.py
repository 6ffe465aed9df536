"""SemEval-2016 Task 3 (English, Qatar Living) XML: new questions, their ten related threads and
the gold labels of both subtasks.

The file repeats each `<OrgQuestion>` once per related thread, so questions are grouped by
`ORGQ_ID`. A related thread is a forum question (`<RelQuestion>`) with its first ten comments,
which serve as the thread's answers. Labels: `RELQ_RELEVANCE2ORGQ` (PerfectMatch / Relevant /
Irrelevant, subtask B) and `RELC_RELEVANCE2RELQ` (Good / PotentiallyUseful / Bad, subtask A).
`SubtaskA_Skip_Because_Same_As_RelQuestion_ID` marks a thread that repeats one of the training
files; the official subtask A scoring leaves those out.

The XML is streamed (iterparse, elements cleared when done), so no element tree is held; the
questions read are (grouped by `ORGQ_ID`, which the file repeats), so memory grows with the
file's text, a few megabytes for the official files. Any syntax error becomes a `DataFormatError`
naming the file, line and column.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cqa.store import thread_text
from qa.core.errors import DataFormatError
from qa.core.text import input_position, open_binary

RELEVANT = frozenset({"PerfectMatch", "Relevant"})
GOOD = "Good"


@dataclass
class Comment:
    id: str
    text: str
    user_id: str = ""
    username: str = ""
    date: str = ""
    label: str = ""  # relevance to its own thread's question (subtask A)
    label_orgq: str = ""  # relevance to the new question (subtask C)

    @property
    def good(self) -> bool:
        return self.label == GOOD


@dataclass
class RelatedThread:
    id: str
    subject: str
    body: str
    category: str = ""
    date: str = ""
    user_id: str = ""
    username: str = ""
    ranking_order: int = 0  # the search engine's rank (the official IR baseline), never a feature
    relevance: str = ""
    skip_subtask_a: str | None = None
    comments: list[Comment] = field(default_factory=list)

    @property
    def relevant(self) -> bool:
        return self.relevance in RELEVANT

    @property
    def text(self) -> str:
        return thread_text(self.subject, self.body)


@dataclass
class NewQuestion:
    id: str
    subject: str
    body: str
    threads: list[RelatedThread] = field(default_factory=list)

    @property
    def text(self) -> str:
        return thread_text(self.subject, self.body)


def _text(elem: ET.Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def _thread(elem: ET.Element, where: str) -> RelatedThread:
    rq = elem.find("RelQuestion")
    if rq is None:
        raise DataFormatError(f"{where}: a <Thread> without <RelQuestion>")
    a = rq.attrib
    rid = a.get("RELQ_ID") or elem.attrib.get("THREAD_SEQUENCE", "")
    if not rid:
        raise DataFormatError(f"{where}: a <RelQuestion> without RELQ_ID")
    try:
        order = int(a.get("RELQ_RANKING_ORDER", "0") or 0)
    except ValueError:
        order = 0
    t = RelatedThread(
        id=rid, subject=_text(rq.find("RelQSubject")), body=_text(rq.find("RelQBody")),
        category=a.get("RELQ_CATEGORY", ""), date=a.get("RELQ_DATE", ""), user_id=a.get("RELQ_USERID", ""),
        username=a.get("RELQ_USERNAME", ""), ranking_order=order, relevance=a.get("RELQ_RELEVANCE2ORGQ", ""),
        skip_subtask_a=elem.attrib.get("SubtaskA_Skip_Because_Same_As_RelQuestion_ID") or None)
    for c in elem.findall("RelComment"):
        ca = c.attrib
        cid = ca.get("RELC_ID", "")
        if not cid:
            raise DataFormatError(f"{where}: a <RelComment> of {rid} without RELC_ID")
        t.comments.append(Comment(
            id=cid, text=_text(c.find("RelCText")), user_id=ca.get("RELC_USERID", ""),
            username=ca.get("RELC_USERNAME", ""), date=ca.get("RELC_DATE", ""),
            label=ca.get("RELC_RELEVANCE2RELQ", ""), label_orgq=ca.get("RELC_RELEVANCE2ORGQ", "")))
    return t


def iter_semeval(path: str | Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[NewQuestion]:
    """New questions with their related threads, in file order (grouped by ORGQ_ID; a question
    whose elements are not adjacent is still yielded once, when its last element has been read).

    `on_bytes(position)` is called as the compressed or plain file is read (for progress bars)."""
    p = Path(path)
    questions: dict[str, NewQuestion] = {}
    order: list[str] = []
    with _reading(p) as fh:
        context = ET.iterparse(fh, events=("start", "end"))
        root = None
        for event, elem in context:
            if root is None and event == "start":
                root = elem
                if elem.tag not in ("xml", "root"):
                    raise DataFormatError(f"{p}: not a SemEval-2016 Task 3 file (root element <{elem.tag}>)")
                continue
            if event != "end" or elem.tag != "OrgQuestion":
                continue
            qid = elem.attrib.get("ORGQ_ID", "")
            where = f"{p}: OrgQuestion {qid or '?'}"
            if not qid:
                raise DataFormatError(f"{p}: an <OrgQuestion> without ORGQ_ID")
            q = questions.get(qid)
            if q is None:
                q = questions[qid] = NewQuestion(qid, _text(elem.find("OrgQSubject")), _text(elem.find("OrgQBody")))
                order.append(qid)
            for t in elem.findall("Thread"):
                q.threads.append(_thread(t, where))
            elem.clear()
            if root is not None:
                root.clear()
            if on_bytes is not None:
                on_bytes(input_position(fh))
        if root is None:
            raise DataFormatError(f"{p}: empty XML document")
    yield from (questions[q] for q in order)


def load_semeval(path: str | Path) -> list[NewQuestion]:
    return list(iter_semeval(path))



@contextmanager
def _reading(p: Path) -> Iterator[IO[bytes]]:
    """The file, open for streaming; a syntax or read error inside becomes one `DataFormatError`
    naming the file (and the line and column), and the file is closed however the reading ends."""
    fh = open_binary(p)
    try:
        yield fh
    except ET.ParseError as exc:
        line, col = exc.position
        raise DataFormatError(f"{p}: malformed XML at line {line}, column {col}: {_reason(exc)}") from None
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{p}: cannot read ({exc})") from None
    finally:
        fh.close()


def _reason(exc: ET.ParseError) -> str:
    msg = str(exc)
    return msg.split(":", 1)[0] if ": line" in msg else msg


def _flat(elem: ET.Element | None) -> str:
    """A 2015 text as the 2016 files write theirs: on one line, runs of spaces made one."""
    return " ".join(_text(elem).split())


def iter_semeval2015(path: str | Path) -> Iterator[RelatedThread]:
    """The threads of a SemEval-2015 Task 3 English file (`<Question>` with its `<Comment>`s, each
    labelled by CGOLD): the answer-selection data the 2016 task offered as extra training for its
    subtask A. CGOLD's Good is the 2016 Good; Potential, Bad, Dialogue, Not English and Other are
    not Good. Streamed like `iter_semeval`; a file of another shape is a `DataFormatError`."""
    p = Path(path)
    comments = 0
    with _reading(p) as fh:
        root = None
        for event, elem in ET.iterparse(fh, events=("start", "end")):
            if root is None and event == "start":
                root = elem
                if elem.tag != "root":
                    raise DataFormatError(f"{p}: not a SemEval-2015 Task 3 file (root element <{elem.tag}>)")
                continue
            if event != "end" or elem.tag != "Question":
                continue
            a = elem.attrib
            qid = a.get("QID", "")
            if not qid:
                raise DataFormatError(f"{p}: a <Question> without QID")
            t = RelatedThread(id=qid, subject=_flat(elem.find("QSubject")), body=_flat(elem.find("QBody")),
                              category=a.get("QCATEGORY", ""), date=a.get("QDATE", ""), user_id=a.get("QUSERID", ""))
            for c in elem.findall("Comment"):
                ca = c.attrib
                if not ca.get("CID") or "CGOLD" not in ca:
                    raise DataFormatError(f"{p}: Question {qid}: a <Comment> without CID or CGOLD")
                t.comments.append(Comment(id=ca["CID"], text=_flat(c.find("CBody")), user_id=ca.get("CUSERID", ""),
                                          label=ca["CGOLD"]))
            comments += len(t.comments)
            elem.clear()
            if root is not None:
                root.clear()
            yield t
        if root is None:
            raise DataFormatError(f"{p}: empty XML document")
        if not comments:
            raise DataFormatError(f"{p}: no <Question> with a <Comment>: not a SemEval-2015 Task 3 English file")


def load_semeval2015(path: str | Path) -> list[RelatedThread]:
    return list(iter_semeval2015(path))


LABELLED_COLUMNS = ("title", "question", "answer", "label")
LABELS = frozenset({"Good", "PotentiallyUseful", "Bad"})


@contextmanager
def csv_reading(p: Path, line: Callable[[], int]) -> Iterator[None]:
    """A labelled CSV's read errors as one `DataFormatError` naming the file (and, for a malformed
    row, `line()`: where the reader stands): the comment files here and the grouped questions of
    `cqa.question_training.load_grouped`."""
    import csv

    try:
        yield
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{p}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise DataFormatError(f"{p}, line {line()}: malformed CSV ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{p}: cannot read ({exc})") from None


def load_labelled_csv(path: str | Path) -> list[RelatedThread]:
    """Labelled comments in a CSV, one a row: `title,question,answer,label` (the thread's title, its
    question's body, one comment, and that comment's SemEval-2016 label: Good, PotentiallyUseful or
    Bad). Rows of one (title, question) make one thread, in file order. For comments labelled in
    the 2016 scheme that come without the task's XML (its test part, as others have shared it)."""
    import csv
    import io

    p = Path(path)
    threads: dict[tuple[str, str], RelatedThread] = {}
    reader = None
    with csv_reading(p, lambda: getattr(reader, "line_num", 0)):
        with io.TextIOWrapper(open_binary(p), encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh, strict=True)
            if tuple(reader.fieldnames or ()) != LABELLED_COLUMNS:
                raise DataFormatError(f"{p}: the header must be {','.join(LABELLED_COLUMNS)} "
                                      f"(found {','.join(reader.fieldnames or ()) or 'none'})")
            for row in reader:
                label = (row.get("label") or "").strip()
                if label not in LABELS or None in row or any(v is None for v in row.values()):
                    raise DataFormatError(f"{p}, line {reader.line_num}: four fields and a label of "
                                          f"{', '.join(sorted(LABELS))} expected")
                key = (" ".join(row["title"].split()), " ".join(row["question"].split()))
                t = threads.get(key)
                if t is None:
                    t = threads[key] = RelatedThread(id=f"{p.stem}:{len(threads) + 1}", subject=key[0], body=key[1])
                t.comments.append(Comment(id=f"{t.id}_C{len(t.comments) + 1}", text=" ".join(row["answer"].split()),
                                          label=label))
    if not any(c.text for t in threads.values() for c in t.comments):
        raise DataFormatError(f"{p}: no labelled comment")
    return list(threads.values())


def load_labelled_comments(path: str | Path) -> list[RelatedThread]:
    """Threads with labelled comments from a SemEval-2015 Task 3 XML file or a labelled CSV, told
    apart by their first character (`<` for XML), not by the file's name."""
    p = Path(path)
    try:
        with open_binary(p) as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{p}: cannot read ({exc})") from None
    return load_semeval2015(p) if head.startswith(b"<") else load_labelled_csv(p)
