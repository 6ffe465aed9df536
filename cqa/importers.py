"""Importers: StackExchange data dumps, SemEval-2016 Task 3 XML and plain FAQ files.

Each import is one transaction (see `cqa.store`): a malformed file raises `DataFormatError` (one
line naming the file and the place) and leaves the store exactly as it was; importing the same
file again adds nothing twice. XML is streamed with iterparse and every element is cleared once
read, so memory stays flat whatever the size of the dump; answers whose question comes later in
the file wait in a table, not in memory. Importing does not embed: `ThreadIndex.embed_pending`
does that afterwards (and can resume).
"""

from __future__ import annotations

import csv
import html
import itertools
import os
import re
import sqlite3
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO, cast

from cqa.store import MAX_TEXT_CHARS, MAX_TITLE_CHARS, Put, SourceKind, ThreadStore, content_id
from qa.core.errors import DataFormatError, InputError
from qa.core.text import (
    check_text,
    counted,
    has_words,
    input_position,
    json_of,
    open_binary,
    open_text,
    other_encoding,
    parse_json,
    utf8_error_place,
)

# the posts file of a StackExchange dump folder, as the dump names it or compressed
POSTS_NAMES = ("Posts.xml", "Posts.xml.gz", "Posts.xml.xz", "Posts.xml.bz2")


def file_to_read(path: Path) -> Path:
    """The file an import of `path` reads: itself, or a dump folder's Posts.xml."""
    if not path.is_dir():
        return path
    found = next((path / name for name in POSTS_NAMES if (path / name).exists()), None)
    if found is None:
        raise InputError(f"{path} is a folder without a Posts.xml (a StackExchange dump folder has one)")
    return found


class Format(StrEnum):
    """What a file to import is."""

    STACKEXCHANGE = "stackexchange"
    SEMEVAL = "semeval"
    FAQ = "faq"


@dataclass
class ImportReport:
    source: str
    path: str
    threads_read: int = 0
    threads_added: int = 0
    answers_read: int = 0
    answers_added: int = 0
    links_added: int = 0
    threads_updated: int = 0
    answers_updated: int = 0
    answers_removed: int = 0
    threads_without_text: int = 0  # questions with neither a title nor any text (an image alone)
    threads_removed: int = 0  # with `prune`: the source's threads the file no longer gives
    threads_kept_for_users: int = 0  # ... that stay, without the file's answers, for answers users added
    questions_repeated: int = 0  # an FAQ's records asking a question an earlier record asked (answers joined)
    answers_without_words: int = 0  # "...", an emoji or a zero-width space: nothing a question could use
    posts_too_long: int = 0  # a dump's posts beyond the store's limits (skipped, not the whole dump refused)
    answers_without_question: int = 0  # a dump's answers whose question it does not hold (deleted, or cut off)
    seconds: float = 0.0

    def thread(self, put: Put) -> None:
        self.threads_read += 1
        self.threads_added += put is Put.ADDED
        self.threads_updated += put is Put.UPDATED

    def answer(self, put: Put) -> None:
        self.answers_added += put is Put.ADDED
        self.answers_updated += put is Put.UPDATED

    def summary(self) -> str:
        updated = [counted(c, what) for c, what in ((self.threads_updated, "thread"), (self.answers_updated, "answer"))
                   if c]
        said = [f"{counted(self.threads_added, 'new thread')} ({self.threads_read:,} read)",
                f"{counted(self.answers_added, 'new answer')} ({self.answers_read:,} read)"]
        for count, text in (
                (self.links_added, counted(self.links_added, "duplicate link")),
                (updated, f"updated {' and '.join(updated)}"),
                (self.answers_removed, f"removed {counted(self.answers_removed, 'answer')} the file no longer gives"),
                (self.threads_without_text, f"skipped {counted(self.threads_without_text, 'question')} without "
                                            "any text"),
                (self.answers_without_words, f"skipped {counted(self.answers_without_words, 'answer')} without words"),
                (self.posts_too_long, f"skipped {counted(self.posts_too_long, 'post')} longer than the store takes"),
                (self.answers_without_question, f"skipped {counted(self.answers_without_question, 'answer')} whose "
                                                "question is not in the file or was skipped"),
                (self.questions_repeated,
                 f"{counted(self.questions_repeated, 'record')} repeated an earlier record's question (answers "
                 "joined into its thread)"),
                (self.threads_removed, f"removed {counted(self.threads_removed, 'thread')} the file no longer gives"),
                (self.threads_kept_for_users,
                 f"kept {counted(self.threads_kept_for_users, 'thread')} the file no longer gives for the answers "
                 "users added (without the file's; `qa cqa delete` removes a thread)")):
            if count:
                said.append(text)
        return ", ".join(said) + f" from {self.path} into source {self.source!r}"


Progress = Callable[[int], None]


# ---------------------------------------------------------------------------------------------- helpers
# Every pattern stops at the next "<": a post full of "<" that never close (a pasted formula, a
# broken dump) is read in linear time, not rescanned to its end from each one.
_TAG = re.compile(r"<[^<>]+>")
# inline markup goes without a trace ("s<code>[::-1]</code>", "H<sub>2</sub>O"); other tags leave a space
_INLINE = re.compile(r"(?i)</?\s*(?:a|abbr|b|code|del|em|i|ins|kbd|mark|q|s|small|span|strike|strong|sub|sup|tt|u)"
                     r"(?:\s[^<>]*)?/?>")
_PRE_OPEN = re.compile(r"(?i)<pre\b[^<>]*>")
_PRE_CLOSE = re.compile(r"(?i)</pre\s*>")
RAW_BODY_CHARS = 5 * MAX_TEXT_CHARS  # a body longer than this in HTML is skipped before it is converted
_BLOCK = re.compile(r"(?i)<\s*(br|/p|/li|/h\d|/pre|/blockquote|/tr)\s*/?>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")


def html_to_text(markup: str) -> str:
    """Plain text of a post body: block ends become line breaks, tags go, entities are decoded;
    code blocks (`<pre>`) keep their lines and indentation (an answer's Python would not run
    without them)."""
    if "<" not in markup and "&" not in markup:
        return markup.strip()
    blocks: list[str] = []
    parts: list[str] = []
    markup = markup.replace("\x00", "")
    at = 0
    while (start := _PRE_OPEN.search(markup, at)) and (end := _PRE_CLOSE.search(markup, start.end())):
        blocks.append(html.unescape(_TAG.sub("", markup[start.end():end.start()])).strip("\n"))
        parts += [markup[at:start.start()], f"\n\x00{len(blocks) - 1}\x00\n"]
        at = end.end()
    text = "".join([*parts, markup[at:]])
    text = _with_link_targets(text)  # "See the docs." kept no trace of where the docs are
    text = _BLOCK.sub("\n", text)
    text = html.unescape(_TAG.sub(" ", _INLINE.sub("", text)))
    text = _SPACE.sub(" ", text)
    text = _LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n"))).strip()
    return re.sub(r"\x00(\d+)\x00", lambda m: blocks[int(m.group(1))], text) if blocks else text


# an opening link tag with its address, or a closing one; bounded by < and > so that one pass over
# the text reads them all (a pattern spanning opening to closing tag went quadratic on unclosed ones)
_A_TAG = re.compile(r"""<a\s[^<>]*?href\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)')[^<>]*>|</a\s*>""", re.IGNORECASE)

def _with_link_targets(text: str) -> str:
    """Each link's text followed by its address ("the docs (https://...)"), where the address says
    more than the text; one pass, each closing tag paired with the last opening one."""
    parts: list[str] = []
    at, opened = 0, None
    for m in _A_TAG.finditer(text):
        if not m.group(0).startswith("</"):
            opened = m
            continue
        if opened is None:
            continue
        url = html.unescape(opened.group(1) or opened.group(2) or "").strip()
        inner = text[opened.end():m.start()]
        shown = html.unescape(_TAG.sub("", inner)).strip()
        if url.startswith(("http://", "https://")) and url not in shown:
            parts += [text[at:opened.start()], f"{inner} ({url})" if shown else url]
            at = m.end()
        opened = None
    return "".join([*parts, text[at:]])


def plain_text(text: str) -> str:
    """An FAQ's text as shown: HTML (from a CMS export) as its text, plain text as it is. A help
    desk's FAQ may speak of tags ("Type <br> where the line should break"): read as HTML, its words
    went with them; and a CMS may export inline markup alone ("<strong>Yes</strong>, ... &amp; ...").
    So it goes by what the tags do. A block element standing against its text ("<p>Yes",
    "ship.</p>", "one<br>", "<li>Open") makes the text HTML, read whole as before. Else an inline
    element so placed and closed ("<b>Enter</b>") is markup and goes, while tags spoken of (spaced
    or quoted apart: "in <code> tags"), unclosed ones ("<Ctrl>+<B>") and angle brackets naming no
    element ("press <Enter>", "a<b && c>d") stay as written. With neither, the text is plain. A
    text past the store's limit is refused as it is."""
    if len(text) > 2 * MAX_TEXT_CHARS or "<" not in text:
        return text
    tags = [(m, _ELEMENT.fullmatch(m.group(0))) for m in _TAG.finditer(text)]
    named = [(m, e.group(2).lower(), bool(e.group(1))) for m, e in tags if e and e.group(2).lower() in _ELEMENTS]
    if any(name in _BLOCKS and _touches(text, m) for m, name, _ in named):
        return html_to_text(text)
    first_open: dict[str, int] = {}
    last_close: dict[str, int] = {}
    for m, name, closing in named:
        if closing:
            last_close[name] = m.start()
        else:
            first_open.setdefault(name, m.start())
    markup = {m.start() for m, name, closing in named if name not in _BLOCKS and _touches(text, m) and (
        first_open.get(name, len(text)) < m.start() if closing else last_close.get(name, -1) > m.start())}
    if not markup:
        return text
    kept: list[str] = []  # everything else, as written
    parts, at = [], 0
    for m, _ in tags:
        if m.start() not in markup:
            parts += [text[at:m.start()].replace("\x01", ""), f"\x01{len(kept)}\x01"]
            kept.append(m.group(0))
            at = m.end()
    converted = html_to_text("".join([*parts, text[at:].replace("\x01", "")]))
    return re.sub(r"\x01(\d+)\x01", lambda g: kept[int(g.group(1))], converted) if kept else converted


# a start or end tag as HTML writes one: a name, then attributes with values ("<b && c>" is no tag)
_ELEMENT = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9]*)(?:\s+[A-Za-z_:][-\w:.]*\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|"""
                      r"""[^\s"'=<>`]+))*\s*/?>""")
_BLOCKS = frozenset("blockquote br dd div dl dt h1 h2 h3 h4 h5 h6 hr li ol p pre table tbody td tfoot th thead tr "
                    "ul".split())
_ELEMENTS = _BLOCKS | frozenset("a abbr b code del em i ins kbd mark q s small span strike strong sub sup tt u".split())
_QUOTES = "`'\"\u2018\u2019\u201c\u201d"


def _touches(text: str, m: re.Match[str]) -> bool:
    """Whether a tag stands as markup does: against the text before it ("ship.</p>", "one<br>"),
    or at the start, or before a word, a quote, a tag or a line break ("<p>Yes"); a tag quoted on
    both sides, or spaced apart ("type <br> where", "in <p> and </p>."), is spoken of."""
    before = text[m.start() - 1] if m.start() else ""
    after = text[m.end()] if m.end() < len(text) else ""
    if before and after and before in _QUOTES and after in _QUOTES:
        return False
    if not before or not before.isspace():
        return True
    # an entity or an opening bracket starts the element's text as a word does ("<code>&lt;br&gt;</code>")
    return bool(after) and (after.isalnum() or after in "<\n&([{" or after in _QUOTES)


def _tags(raw: str) -> list[str]:
    """StackExchange writes tags as `<a><b>` (older dumps) or `|a|b|` (newer ones)."""
    if not raw:
        return []
    return [t for t in re.split(r"[<>|]+", raw) if t]


def _text(text: str) -> str:
    """Imported text in one Unicode composition (NFC), so a file saved again by an editor that
    writes NFD is the same file, not an edit of every thread in it."""
    return unicodedata.normalize("NFC", text).strip()


def _worded(text: str) -> str:
    """`text` stripped if it has a letter or a digit, else "" (a title of "???" is no title)."""
    text = text.strip()
    return text if has_words(text) else ""


def _within(text: str, what: str, limit: int, where: str) -> str:
    """NFC `text` within the limit `ThreadStore.add_question` and `add_answer` apply to what is filed
    through the API (a megabyte answer made every later question over the store slow), or a
    `DataFormatError` naming the place in the file."""
    # Windows line ends are line ends: an FAQ saved again with Unix ones was an edit (which made the
    # file's answer the accepted one again, over a user's), and "\r\n" was stored as such
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return check_text(_text(text), what, limit, stored=True)
    except InputError as exc:
        raise DataFormatError(f"{where}: {exc}") from None


def _title(title: str, where: str) -> str:
    text = _within(title, "question", MAX_TITLE_CHARS, where)
    if not has_words(text):
        raise DataFormatError(f"{where}: the question has no words (no letter or digit)")
    return text


def _body(body: str, where: str) -> str:
    return _within(body, "question body", MAX_TEXT_CHARS, where) if body.strip() else ""


def _answer(text: str, where: str) -> str | None:
    """An answer within the store's limit, or None when it has no words to offer (an FAQ's answer
    is the one shown: a zero-width space would be an invisible answer at a high probability)."""
    return _within(text, "answer", MAX_TEXT_CHARS, where) if has_words(text) else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None



def _iter_rows(path: Path, root_tag: str, on_bytes: Progress | None) -> Iterator[dict[str, str]]:
    """The attributes of each `<row>` of a StackExchange dump file, streamed with constant memory."""
    fh = open_binary(path)
    try:
        root = None
        n = 0
        for event, elem in ET.iterparse(fh, events=("start", "end")):
            if root is None:
                root = elem
                if elem.tag != root_tag:
                    raise DataFormatError(f"{path}: not a StackExchange {root_tag} file (root element <{elem.tag}>)")
                continue
            if event == "end" and elem.tag == "row":
                yield dict(elem.attrib)
                elem.clear()
                n += 1
                if n % 2000 == 0:
                    root.clear()
                    if on_bytes is not None:
                        on_bytes(input_position(fh))
        if root is None:
            raise DataFormatError(f"{path}: empty XML document")
    except ET.ParseError as exc:
        line, col = exc.position
        msg = str(exc).split(":", 1)[0]
        raise DataFormatError(f"{path}: malformed XML at line {line}, column {col}: {msg}") from None
    except (OSError, EOFError) as exc:
        raise DataFormatError(f"{path}: cannot read ({exc})") from None
    finally:
        fh.close()


def detect_format(path: str | Path) -> Format:
    """The format of a file from its name and, for XML, its first element."""
    p = Path(path)
    name = p.name.lower()
    for suffix in (".gz", ".xz", ".bz2"):
        name = name.removesuffix(suffix)
    if name.endswith((".jsonl", ".json", ".csv", ".tsv")):
        return Format.FAQ
    if name == "posts.xml":
        return Format.STACKEXCHANGE
    if name.endswith(".xml"):
        fh = open_binary(p)
        try:
            head = fh.read(4096).decode("utf-8", "replace")
        finally:
            fh.close()
        if "<posts" in head:
            return Format.STACKEXCHANGE
        if "<OrgQuestion" in head or "ORGQ_ID" in head:
            return Format.SEMEVAL
    raise InputError(f"cannot tell the format of {p}: name a StackExchange Posts.xml, a SemEval-2016 Task 3 "
                     "XML file or an FAQ .jsonl/.json/.csv/.tsv file (or give --format)")


# ---------------------------------------------------------------------------------------------- StackExchange
def import_stackexchange(store: ThreadStore, posts: str | Path, links: str | Path | None = None, *,
                         site: str | None = None, source: str | None = None,
                         on_bytes: Progress | None = None, prune: bool = False) -> ImportReport:
    """Questions and answers of a StackExchange `Posts.xml` (and duplicate links from `PostLinks.xml`,
    found beside it when not given). The source is `stackexchange:<site>` unless given, the site
    defaulting to the dump's folder name. Importing a newer dump of the same site updates what
    changed: votes, accepted answers, edited posts. A dump is the whole site: with `prune`, the
    source's posts it no longer holds (deleted upstream) go, questions with their answers; answers
    users added through the API or `qa cqa add` (ids that are no post ids) stay."""
    posts = Path(posts)
    if links is None:
        for cand in ("PostLinks.xml", "PostLinks.xml.gz", "PostLinks.xml.xz", "PostLinks.xml.bz2"):
            if (posts.parent / cand).exists():
                links = posts.parent / cand
                break
    named = source is not None or site is not None  # the user named it: no guessing which dump it is
    site = site or posts.resolve().parent.name or "site"
    source = source or f"stackexchange:{site}"
    rep = ImportReport(source, str(posts))
    t0 = time.perf_counter()
    changed: set[int] = set()  # threads whose acceptance this import sets: new ones, or the dump's changed
    posts_read = orphans = 0
    listed: set[str] = set()  # every question and answer id the dump holds (for `prune`)
    # a dump extracted into another folder is another source by name: its threads were all filed a
    # second time. While this source is new, its first questions are looked for under other dumps'
    unchecked = 0 if named or store.sources().get(source) else 5
    with store.transaction():
        store.claim_source(source, SourceKind.STACKEXCHANGE)
        for row in _iter_rows(posts, "posts", on_bytes):
            kind = row.get("PostTypeId")
            pid = row.get("Id")
            if kind not in ("1", "2"):
                continue
            posts_read += 1
            if not pid:
                raise DataFormatError(f"{posts}: a post row without Id")
            listed.add(pid)
            if not store.first_naming(pid):  # which of the two is the post, the dump cannot say
                raise DataFormatError(f"{posts}: two posts with the Id {pid}")
            raw = row.get("Body", "")
            if len(raw) > RAW_BODY_CHARS:  # over the limit whatever its markup: not worth converting
                rep.posts_too_long += 1
                continue
            body = html_to_text(raw)
            where = f"{posts}: post {pid}"
            if kind == "1":
                title = _worded(html.unescape(row.get("Title", ""))) or _worded(body.split("\n", 1)[0][:200])
                if not title:  # nothing to match a question against: it would only match by chance
                    rep.threads_without_text += 1
                    continue
                try:
                    title, body = _title(title, where), _body(body, where)
                except DataFormatError:  # a dump is not the user's to fix: one post does not sink it
                    rep.posts_too_long += 1
                    continue
                if unchecked:
                    unchecked -= 1
                    other = store.source_holding(pid, title, prefix="stackexchange:", besides=source)
                    if other is not None:
                        raise InputError(f"{posts}: this dump's posts are stored already, as the source {other!r} "
                                         f"(post {pid}, {title[:60]!r}): import it with --source {other} to update "
                                         "that one, or give it a --source of its own if it is another site")
                url = f"https://{site}/q/{pid}" if "." in site else ""
                accepted = row.get("AcceptedAnswerId") or None
                before = store.accepted_ext_of(source, pid)
                tkey, put = store.put_thread(source, pid, title, body,
                                             tags=_tags(html.unescape(row.get("Tags", ""))),
                                             created=row.get("CreationDate", ""), url=url, accepted_ext=accepted,
                                             author=row.get("OwnerDisplayName", "") or row.get("OwnerUserId", ""))
                rep.thread(put)
                if put is Put.ADDED or before != accepted:  # new, or the dump moved or withdrew its acceptance
                    changed.add(tkey)
            else:
                rep.answers_read += 1
                parent = row.get("ParentId", "")
                if not parent:
                    orphans += 1
                    continue
                if not body:  # empty, or an image alone
                    rep.answers_without_words += 1
                    continue
                try:
                    checked = _answer(body, where)
                except DataFormatError:
                    rep.posts_too_long += 1
                    continue
                if checked is None:
                    rep.answers_without_words += 1
                    continue
                body = checked
                key = store.thread_key(source, parent)
                author = row.get("OwnerDisplayName", "") or row.get("OwnerUserId", "")
                if key is None:
                    store.put_pending_answer(source, parent, pid, body, votes=_int(row.get("Score")),
                                             created=row.get("CreationDate", ""), author=author)
                    continue
                left = store.move_answer_here(source, pid, key)
                if left is not None:  # the dump moved it (merged questions): acceptance of both re-read
                    changed.update((left, key))
                _, put = store.put_answer(key, pid, body, votes=_int(row.get("Score")),
                                          created=row.get("CreationDate", ""), author=author)
                rep.answer(put)
        if not posts_read:
            raise DataFormatError(f"{posts}: no questions or answers (no <row> with PostTypeId 1 or 2: an empty dump?)")
        puts, left_threads, rep.answers_without_question = store.resolve_pending(source)
        rep.answers_without_question += orphans
        for put in puts:
            rep.answer(put)
        changed.update(left_threads)
        if prune:  # posts deleted upstream (spam, wrong answers a moderator removed) were served for good
            rep.threads_removed, rep.answers_removed, rep.threads_kept_for_users = store.drop_posts_except(
                source, listed)
        # acceptance follows the dump where the dump changed it; elsewhere what users accepted since
        # the last import (through the API) stays, also when a thread's text was re-read
        store.mark_accepted(source, changed)
        if links is not None:
            for row in _iter_rows(Path(links), "postlinks", None):
                if row.get("LinkTypeId") != "3":
                    continue
                a = store.thread_key(source, row.get("PostId", ""))
                b = store.thread_key(source, row.get("RelatedPostId", ""))
                if a is not None and b is not None and a != b:
                    rep.links_added += store.link(a, b, "duplicate")
    rep.seconds = time.perf_counter() - t0
    return rep


# ---------------------------------------------------------------------------------------------- SemEval
def import_semeval(store: ThreadStore, path: str | Path, *, source: str = "semeval",
                   on_bytes: Progress | None = None) -> ImportReport:
    """The related threads of a SemEval-2016 Task 3 file (forum question + comments as answers).
    The new questions and the labels are benchmark material and are not imported."""
    from cqa.semeval import iter_semeval

    rep = ImportReport(source, str(path))
    t0 = time.perf_counter()
    questions = list(iter_semeval(path, on_bytes=on_bytes))  # parse all first: a bad file writes nothing
    if not any(q.threads for q in questions):
        raise DataFormatError(f"{path}: no related threads (no <Thread> inside an <OrgQuestion>: an empty file?)")
    threads = _distinct_threads(path, [t for q in questions for t in q.threads])
    with store.transaction():
        store.claim_source(source, SourceKind.SEMEVAL)
        for t in threads:
            where = f"{path}: thread {t.id}"
            title = _worded(t.subject) or _worded(t.body.split("\n", 1)[0][:200])
            if not title:
                rep.threads_without_text += 1
                continue
            key, put = store.put_thread(source, t.id, _title(title, where), _body(t.body, where),
                                        tags=[t.category] if t.category else [], created=t.date,
                                        author=t.username)
            rep.thread(put)
            for c in t.comments:
                rep.answers_read += 1
                # every comment as the benchmark gives it, ":(" too: its threads are ranked
                # whole (subtask A), so one left out would change what is measured
                if c.text:
                    text = _within(c.text, "answer", MAX_TEXT_CHARS, f"{path}: comment {c.id}")
                    rep.answer(store.put_answer(key, c.id, text, created=c.date, author=c.username)[1])
    rep.seconds = time.perf_counter() - t0
    return rep


def _distinct_threads(path: str | Path, threads: list[Any]) -> list[Any]:
    """Each thread once: an id given twice to the same thread is read once, an id given to two
    different threads (or to two comments of one) is an error, before anything is written. Stored
    under one key, the second would have replaced the first's question and kept its answers."""
    first: dict[str, Any] = {}
    out = []
    for t in threads:
        ids = [c.id for c in t.comments]
        twice = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
        if twice is not None:
            raise DataFormatError(f"{path}: thread {t.id} has two comments with the id {twice}")
        seen = first.get(t.id)
        if seen is None:
            first[t.id] = t
            out.append(t)
        elif (seen.subject, seen.body, [(c.id, c.text) for c in seen.comments]) != \
                (t.subject, t.body, [(c.id, c.text) for c in t.comments]):
            raise DataFormatError(f"{path}: two different threads with the id {t.id}")
    return out


# ---------------------------------------------------------------------------------------------- FAQ
_Q_KEYS = ("question", "q", "title", "query", "prompt")
_A_KEYS = ("answer", "a", "response", "reply")


def _faq_records(path: Path, on_bytes: Progress | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) of an FAQ file, `on_bytes` told how far into the file reading is."""
    name = path.name.lower()
    for suffix in (".gz", ".xz", ".bz2"):
        name = name.removesuffix(suffix)
    line = 0  # the last line read, for a CSV error's place
    try:
        with open_text(path) as fh:
            for n, item in enumerate(_faq_parse(fh, name, path), start=1):
                line = item[2]
                yield item[0], item[1]
                if on_bytes is not None and n % 500 == 0:
                    on_bytes(input_position(cast(TextIO, fh).buffer))
    except UnicodeDecodeError:
        with open_binary(path) as raw:
            other = other_encoding(path, raw.read(8))
        raise other or DataFormatError(f"{path}: not UTF-8 text ({utf8_error_place(path)}); save it as UTF-8") from None
    except csv.Error as exc:
        kind = "TSV" if name.endswith(".tsv") else "CSV"
        raise DataFormatError(f"{path}:{line + 1}: malformed {kind}: {exc}") from None


def _no_rows_swallowed(row: list[str], header: list[str], delimiter: str, where: str, last: int) -> None:
    """Refuse a quoted field that runs over lines of which one reads as a row of its own (a
    question ending in "?", then as many fields as the header names): a stray quote at a field's
    start (`"Big Blue`) is closed by the next quote at a line's end (an inch mark, `15.6"`), and
    the rows between became part of one answer while the import said it read them all. An answer
    of several lines is left alone unless one of its lines looks like that."""
    asked = next((i for i, h in enumerate(header) if h in _Q_KEYS), 0)
    for value in row:
        if "\n" not in value:
            continue
        for inner in value.split("\n")[1:]:
            try:
                fields = next(csv.reader([inner], delimiter=delimiter), [])
            except csv.Error:
                continue
            others = [f for i, f in enumerate(fields) if i != asked]
            # a row's question asks and its other fields answer (a "See also: How do I ...?, How do I
            # ...?" line asks in every field: prose, not a row)
            if len(fields) == len(header) and fields[asked].rstrip().endswith("?") and not inner[:1].isspace() \
                    and not any(f.rstrip().endswith("?") for f in others):
                raise DataFormatError(
                    f"{where}: a quoted field opens here and runs to line {last}, holding what reads as a row "
                    f"of its own ({inner.strip()[:60]!r}): a quote left open? A field that opens with a quote "
                    'is read up to its closing quote: quote the whole field and double each quote inside it')


def _csv_delimiter(header: str) -> str:
    """The delimiter of a .csv file, read off its header line: the one (comma, semicolon, tab)
    whose split of the header names a question and an answer field and the largest share of known
    fields; else a comma. Spreadsheets
    save "CSV" with semicolons where the comma is the decimal separator, a tab-separated file is
    often named .csv, and a header field may hold another delimiter ("Notes, if any", "Author, title")."""
    known = {*_Q_KEYS, *_A_KEYS, "answers", "id", "body", "tags", "url"}
    best, most = "", 0.0
    for sep in (",", ";", "\t"):
        try:
            fields = [f.strip().lstrip("\ufeff").lower() for f in next(csv.reader([header], delimiter=sep), [])]
        except csv.Error:
            continue
        hits = sum(f in known for f in fields) / len(fields) if fields else 0.0  # the share of known fields
        # both a question and an answer field: "Author, Title" splits off a "title", and no answer
        if any(f in _Q_KEYS for f in fields) and any(f in _A_KEYS or f == "answers" for f in fields) and hits > most:
            best, most = sep, hits
    return best or ","  # without a question and an answer field the import fails, naming the fields it wants


def _faq_kind(fh: Any, name: str) -> tuple[str, Any]:
    """csv, jsonl or json by the file's name, or, for a name that says none (a pipe, a file without
    a suffix: always read as one JSON document before, "Extra data" at line 2), by what it holds:
    one JSON document, JSON lines (a document with more after it), or else CSV."""
    import io

    for suffixes, kind in (((".csv", ".tsv"), "csv"), ((".jsonl",), "jsonl"), ((".json",), "json")):
        if name.endswith(suffixes):
            return kind, fh
    text = fh.read()  # as the JSON document it was always read as
    first = re.search(r"\S", text)
    kind = "csv"
    if first is not None and text[first.start()] in "[{":
        try:
            json_of(text)
            kind = "json"
        except ValueError:  # JSON lines, if the first line stands alone; else a document with a mistake,
            line = text[first.start():].split("\n", 1)[0]  # said where it is by the document's parse
            try:
                json_of(line)
                kind = "jsonl"
            except ValueError:
                kind = "json"
    return kind, io.StringIO(text)


def _faq_parse(fh: Any, name: str, path: Path) -> Iterator[tuple[str, Any, int]]:
    """(where, record, last line read) of an FAQ file's text."""
    kind, fh = _faq_kind(fh, name)
    if kind == "csv":
        # the answers the store takes, in the worst case quoted throughout (the csv module's default
        # limit, 131,072, is below them and would call a long answer a quote left open)
        csv.field_size_limit(max(csv.field_size_limit(), 2 * MAX_TEXT_CHARS + 2))
        # strict: a quote never closed is an error, not a field that swallows the rest of the file
        first = fh.readline()
        delimiter = "\t" if name.endswith(".tsv") else _csv_delimiter(first)
        reader = csv.reader(itertools.chain([first], fh), delimiter=delimiter, strict=True)
        header = [h.strip().lower() for h in next(reader, [])]
        if not any(header):
            raise DataFormatError(f"{path}: empty CSV file (a header with question and answer is needed)")
        twice = next((h for i, h in enumerate(header) if h and h in header[:i]), None)
        if twice is not None:  # one of the two columns would be dropped without a word
            raise DataFormatError(f"{path}:1: the header names the column {twice!r} twice")
        if not any(h in _Q_KEYS for h in header) or not any(h in _A_KEYS or h == "answers" for h in header):
            # a file without a header: its first question was read as one, and line 2 was blamed
            wanted = "question" if not any(h in _Q_KEYS for h in header) else "answer"
            raise DataFormatError(f"{path}:1: the first line names no {wanted} column ({first.strip()[:60]!r}); "
                                  "a CSV FAQ opens with a header line naming its columns, e.g. question,answer")
        while True:
            start = reader.line_num + 1  # where the row begins (a quoted field may span lines)
            try:
                row = next(reader, None)
            except csv.Error as exc:
                kind, said = "TSV" if name.endswith(".tsv") else "CSV", str(exc).replace("'\t'", "a tab")
                raise DataFormatError(f"{path}:{start}: malformed {kind} in the row that starts here ({said}: "
                                      "a quote left open, or text after a closing quote? A field that opens "
                                      "with a quote is read up to its closing quote: quote the whole field and "
                                      "double each quote inside it)") from None
            if row is None:
                return
            if len(row) > len(header) and any(v.strip() for v in row[len(header):]):
                # an unquoted comma in an answer splits it: storing the first piece would lose the rest
                sep = {"\t": "tab", ";": "semicolon"}.get(delimiter, "comma")
                raise DataFormatError(f"{path}:{start}: {len(row)} fields where the header has {len(header)} "
                                      f"(quote a field that holds a {sep})")
            _no_rows_swallowed(row, header, delimiter, f"{path}:{start}", reader.line_num)
            rec = dict(zip(header, row, strict=False))
            if any(v.strip() for v in row):  # not a blank line or a ",," row of a spreadsheet
                yield f"{path}:{start}", rec, reader.line_num
    elif kind == "jsonl":
        for line, text in enumerate(fh, start=1):
            if text.strip():
                # without its line end: a record cut short was reported at column 1 (of the next line)
                yield (f"{path}:{line}", parse_json(text.rstrip("\r\n"), f"{path}:{line}", line_of_file=True,
                                                   strict=True), line)
    else:
        data = parse_json(fh.read(), str(path), strict=True)
        if isinstance(data, dict):
            data = data.get("data") or data.get("faq") or data.get("questions") or [data]
        if not isinstance(data, list):
            raise DataFormatError(f"{path}: expected a list of question-answer objects")
        for i, rec in enumerate(data):
            yield f"{path}[{i}]", rec, 0


def _first(rec: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of `keys` the record has, empty or not: a record whose `question` is
    empty beside a `title` (a category, in many exports) took the category for its question."""
    lower = {str(k).lower(): v for k, v in rec.items()}
    return next((lower[k] for k in keys if k in lower), None)


def import_faq(store: ThreadStore, path: str | Path, *, source: str | None = None,
               on_bytes: Progress | None = None, prune: bool = False) -> ImportReport:
    """Question-answer pairs from JSONL / JSON / CSV / TSV: each record needs a question and an
    answer (or a list `answers`); optional `id`, `body`, `tags`, `url` (field names in any case).
    The FAQ's own (first) answer is the accepted one. Records without an id are keyed by their
    question text, so a re-import recognises them; re-importing an edited file updates the
    threads whose question or answers changed. A question reworded in a file without ids is a new
    thread; `prune` then removes the old one (every thread of the source the file no longer gives)."""
    p = Path(path)
    name = p.name
    for suffix in (".gz", ".xz", ".bz2"):
        name = name.removesuffix(suffix)
    named = source is not None
    source = source or f"faq:{Path(name).stem}"
    # a pipe (/dev/stdin, <(...)) by the name given: its real path, /proc/PID/fd/pipe:[N], is another
    # each time, and a second import through it was refused as "another file" naming a dead process's pipe
    here = os.path.realpath(p) if p.is_file() else str(p)

    def claim(c: sqlite3.Connection) -> None:
        """The source named after the file: hr/faq.csv and it/faq.csv are both faq:faq, and the
        second would update (with --prune, remove) the first one's threads as if it were its new
        version. Which file a source came from is recorded; another file under the name is refused
        unless the source is named (`--source`). Checked and recorded in the import's transaction."""
        key = f"faq-file:{source}"
        row = c.execute("SELECT value FROM meta WHERE name = ?", (key,)).fetchone()
        if row and row[0] != here and not named:
            raise InputError(
                f"the source {source} holds the FAQ imported from {row[0]}: import {p} as another source with "
                f"--source (e.g. --source faq:{Path(here).parent.name}-{Path(name).stem}), or as that FAQ's new "
                f"version (moved or renamed) with --source {source}")
        c.execute("INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                  (key, here))

    return import_records(store, _faq_records(p, on_bytes), source=source, path=str(p), prune=prune, claim=claim)


def _field_text(rec: dict[str, Any], name: str, where: str) -> str:
    """An optional field as text ("" when absent): a number is its digits (an id of 7 is "7", of
    7.0 "7.0" as before); an object or a list would be stored as Python writes it, so it is refused."""
    value = rec.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DataFormatError(f"{where}: the field {name!r} must be a text, not {value!r:.40}")
    if isinstance(value, float):  # the key earlier releases gave it (7.5, not 7.50 as written): the same thread
        return float.__repr__(value)
    return str(value)  # as written: an id " 7" stays the id earlier imports of the file gave its thread


def _answer_texts(rec: dict[str, Any], where: str) -> list[str]:
    """`answer` and a list `answers`, the first one first (the accepted one); either may be empty
    (a spreadsheet's column) but not both. A record with both kept only the list."""
    answers = rec.get("answers")
    if answers in (None, ""):
        answers = []
    elif not isinstance(answers, list):
        answers = [answers]
    answer = _first(rec, _A_KEYS)
    if answer not in (None, ""):
        answers = [answer, *answers]
    texts = [str(a).strip() for a in answers if isinstance(a, str | int | float) and not isinstance(a, bool)]
    if len(texts) != len(answers) or not any(texts):
        raise DataFormatError(f"{where}: no answer text (expected 'answer' or a list 'answers' of texts)")
    return [t for t in texts if t]


def import_records(store: ThreadStore, records: Iterable[tuple[str, Any]], *, source: str,
                   path: str = "", prune: bool = False,
                   claim: Callable[[sqlite3.Connection], None] | None = None) -> ImportReport:
    """Import (where, record) question-answer records (the FAQ format) in one transaction. One id
    for two different questions in the same file is an error (it would merge them); the same
    question twice adds the second record's answers to the thread."""
    rep = ImportReport(source, path)
    t0 = time.perf_counter()
    seen: dict[str, tuple[str, str]] = {}  # thread id -> (where, question) in this file
    given: dict[int, list[str]] = {}  # thread key -> the answer ids the file gives it
    with store.transaction() as conn:
        store.claim_source(source, SourceKind.FAQ)
        if claim is not None:  # the caller's check and record, in the same transaction as the threads
            claim(conn)
        for where, raw in records:
            if not isinstance(raw, dict):
                raise DataFormatError(f"{where}: expected an object with a question and an answer")
            rec = {str(k).strip().lower(): v for k, v in raw.items()}
            if len(rec) < len(raw):  # "question" and "Question": which one is meant?
                names = [str(k).strip().lower() for k in raw]
                twice = next(n for i, n in enumerate(names) if n in names[:i])
                raise DataFormatError(f"{where}: the field {twice!r} is given twice (in other case or spacing)")
            question = _first(rec, _Q_KEYS)
            if not isinstance(question, str) or not question.strip():
                field = next((k for k in _Q_KEYS if k in rec), None)
                if field is not None and (question is None or isinstance(question, str)):
                    raise DataFormatError(f"{where}: the question (the field {field!r}) is empty")
                if field is not None:
                    raise DataFormatError(f"{where}: the field {field!r} must be a text, not {question!r:.40}")
                raise DataFormatError(f"{where}: no question (expected one of the fields {', '.join(_Q_KEYS)})")
            # a CMS export marks its questions up as it does its answers ("<p>What are your <strong>...")
            marked, question = question, _title(" ".join(plain_text(question).split()), where)
            answers = []
            for a in _answer_texts(rec, where):
                checked = _answer(plain_text(a), where)
                if checked is None:  # refused as `add` and the API refuse it, not shown as an invisible answer
                    raise DataFormatError(f"{where}: the answer {a[:40]!r} has no words (no letter or digit)")
                answers.append(checked)
            given_id = _field_text(rec, "id", where)
            ext = given_id or content_id(question)
            if marked != question and not given_id and store.thread_key(source, content_id(marked)) is not None:
                ext = content_id(marked)  # imported before questions were read as text: the same thread
            earlier = seen.get(ext)
            if earlier is not None and content_id(earlier[1]) != content_id(question):
                raise DataFormatError(f"{where}: the id {ext!r} is also the id of another question ({earlier[0]})")
            tags = rec.get("tags") or []
            if not isinstance(tags, str | list):
                raise DataFormatError(f"{where}: tags must be a list or a comma-separated text, not {tags!r:.40}")
            listed = tags if isinstance(tags, list) else []
            odd = [t for t in listed if isinstance(t, bool) or not isinstance(t, str | int)]
            if odd:
                raise DataFormatError(f"{where}: each tag must be a text, not {odd[0]!r:.40}")
            tags = [t.strip() for t in (tags.split(",") if isinstance(tags, str) else map(str, tags))]
            body, url = _body(plain_text(_field_text(rec, "body", where)), where), _field_text(rec, "url", where)
            if earlier is None:
                key, put = store.put_thread(source, ext, question, body, tags=[t for t in tags if t], url=url)
                rep.thread(put)
                seen[ext] = (where, question)
                changed = put is not Put.SAME
            else:  # the same question again: its answers join the thread, the first accepted one stays
                key = store.thread_key(source, ext) or 0
                changed = False
                rep.questions_repeated += 1
            for a in answers:
                rep.answers_read += 1
                if content_id(a) in given.get(key, ()):
                    # the same answer twice (in other case or spacing): one answer, or every import
                    # of the unchanged file would rewrite it and move the acceptance
                    continue
                put = store.put_answer(key, content_id(a), a)[1]
                rep.answer(put)
                changed = changed or put is not Put.SAME
                given.setdefault(key, []).append(content_id(a))
            if earlier is None and (changed or not store.has_accepted(key)):
                # the file's first answer is the accepted one, unless a user accepted another since
                # the file was last imported unchanged
                store.set_accepted(key, content_id(answers[0]))
        for key, ids in given.items():  # an edited FAQ: the answers it no longer gives go
            rep.answers_removed += store.drop_digest_answers(key, ids)
            if not store.has_accepted(key):  # the accepted one was among them: the file's first answer
                store.set_accepted(key, ids[0])
        if not seen:  # an empty or truncated file is a mistake to say, not "0 new threads" (nor, with
            # --prune, a reason to remove every thread of the source)
            raise DataFormatError(f"{path or source}: no question-answer records (an empty file?)")
        if prune:  # the file is the whole FAQ: its source's other threads go (but what users added to them)
            keep = {store.thread_key(source, ext) for ext in seen}
            rep.threads_removed, rep.threads_kept_for_users = store.drop_threads_except(
                source, {k for k in keep if k is not None})
    rep.seconds = time.perf_counter() - t0
    return rep


def import_file(store: ThreadStore, path: str | Path, fmt: Format | str | None = None, *, source: str | None = None,
                site: str | None = None, links: str | Path | None = None,
                on_bytes: Progress | None = None, prune: bool = False) -> ImportReport:
    """Import one file of any supported format (detected from the name and content unless given);
    `prune` (FAQ files, StackExchange dumps): remove the source's threads (and a dump's answers) the
    file no longer gives."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if source is not None:
        source = source.strip()
        if not has_words(source):  # a blank or "---" source names nothing the threads can be told by
            raise InputError(f"the source name {source!r} has no letter or digit")
    if p.suffix.lower() == ".7z":
        raise InputError(f"{p} is a 7-Zip archive: extract it first (`7z x {p.name}`) and import the folder "
                         "or its Posts.xml")
    p = file_to_read(p)
    kind = Format(fmt) if fmt else detect_format(p)
    if prune and kind == Format.SEMEVAL:
        raise InputError(f"pruning is for FAQ files and StackExchange dumps; {p.name} is a {kind.value} file")
    if kind == Format.STACKEXCHANGE:
        rep = import_stackexchange(store, p, links, site=site, source=source, on_bytes=on_bytes, prune=prune)
    elif kind == Format.SEMEVAL:
        rep = import_semeval(store, p, source=source or "semeval", on_bytes=on_bytes)
    else:
        rep = import_faq(store, p, source=source, on_bytes=on_bytes, prune=prune)
    if rep.threads_removed or rep.answers_removed or rep.threads_kept_for_users:  # committed: what was removed
        # leaves the write-ahead log
        store.scrub()
    return rep
