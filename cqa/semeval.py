"""SemEval-2016 Task 3 (English, Qatar Living) XML: new questions, their ten related threads and
the gold labels of both subtasks.

The file repeats each `<OrgQuestion>` once per related thread, so questions are grouped by
`ORGQ_ID`. A related thread is a forum question (`<RelQuestion>`) with its first ten comments,
which serve as the thread's answers. Labels: `RELQ_RELEVANCE2ORGQ` (PerfectMatch / Relevant /
Irrelevant, subtask B) and `RELC_RELEVANCE2RELQ` (Good / PotentiallyUseful / Bad, subtask A).
`SubtaskA_Skip_Because_Same_As_RelQuestion_ID` marks a thread that repeats one of the training
files; the official subtask A scoring leaves those out.

The XML is streamed (iterparse, elements cleared when done), so memory stays flat however large
the file, and any syntax error becomes a `DataFormatError` naming the file, line and column.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
    fh = open_binary(p)
    questions: dict[str, NewQuestion] = {}
    order: list[str] = []
    try:
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
    except ET.ParseError as exc:
        line, col = exc.position
        raise DataFormatError(f"{p}: malformed XML at line {line}, column {col}: {_reason(exc)}") from None
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{p}: cannot read ({exc})") from None
    finally:
        fh.close()
    yield from (questions[q] for q in order)


def load_semeval(path: str | Path) -> list[NewQuestion]:
    return list(iter_semeval(path))



def _reason(exc: ET.ParseError) -> str:
    msg = str(exc)
    return msg.split(":", 1)[0] if ": line" in msg else msg
