"""Read user files into documents (title, text, source) for indexing.

Supported: .txt, .md/.markdown (read as its words: heading marks, emphasis, bullets, quotes,
rules, link targets and struck-through words left out, table rows read as sentences of their
cells; the front matter's `title`, else the first level-one heading, is the title), .html/.htm
(tags stripped with the standard library's `html.parser`; script, style and SVG dropped, table
rows read as sentences) and .jsonl
(one JSON object a line with `text` and optional `title`, `id`). Files must be UTF-8: a file in
another encoding is rejected with an `InputError` naming it, because guessing an encoding silently
indexes mojibake.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from qa.core.errors import DataFormatError, InputError
from qa.core.text import SURROGATE, json_lines, nul_bytes

log = logging.getLogger("qa.index")


class NoDocumentsError(InputError):
    """A folder given to index holds no file of a kind that is indexed (`qa index` then says what
    became of the collection built from it before)."""


TEXT_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
SUFFIXES = (*TEXT_SUFFIXES, ".jsonl")


@dataclass
class Document:
    """One source document before chunking; `doc_id` is stable across re-indexing."""

    doc_id: str
    text: str
    title: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements become line breaks so paragraphs survive, and a table
    row becomes a sentence of its cells, comma-separated: cells run together ("Ingrid
    SvenssonFacilities manager555-0142") gave the reader spans across them. The title is the
    page's `<title>`, not an SVG icon's tooltip (an SVG's text is a drawing's, left out)."""

    BLOCKS = frozenset(
        "p div br li ul ol h1 h2 h3 h4 h5 h6 tr table section article header footer blockquote pre "
        "dl dt dd hr caption thead tbody tfoot figure figcaption nav aside main form fieldset legend details "
        "summary address".split()
    )
    CELLS = frozenset({"td", "th"})
    SKIP = frozenset({"script", "style", "noscript", "template", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip = 0
        self._in_title = False
        self._cells = 0  # cells begun in the current table row

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif self._skip:
            return
        elif tag == "title":
            self._in_title = not self.title_parts
        elif tag in self.CELLS:
            if self._cells:
                self.parts.append(", ")
            self._cells += 1
        elif tag in self.BLOCKS:
            if tag == "tr":
                self._cells = 0
            self.parts.append("\n\n" if tag == "p" or tag.startswith("h") else "\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.SKIP and tag != "title":  # <svg/>, <title/> open nothing to close
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag == "title":
            self._in_title = False
        elif tag in self.BLOCKS:
            if tag == "tr" and self._cells:  # a row ends as a sentence does, which the reader reads best
                last = "".join(self.parts[-3:]).rstrip()
                if last and last[-1] not in ".!?:;,":
                    self.parts.append(".")
            if tag in {"tr", "table"}:
                self._cells = 0
            self.parts.append("\n\n" if tag == "p" or tag.startswith("h") else "\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title_parts.append(data)
        else:
            self.parts.append(data)


def _normalise_space(text: str) -> str:
    """Collapse runs of spaces inside lines and of blank lines, keeping paragraph breaks."""
    lines = [re.sub(r"[ \t\r\f\v\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML document."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return _normalise_space("".join(parser.title_parts)), _normalise_space("".join(parser.parts))


def read_text_file(path: Path) -> str:
    """The file's text; a clear `InputError` naming the file when it is not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(f"{path} is UTF-16 text; convert it to UTF-8 and index again")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (undecodable byte at offset {exc.start}); "
            "convert it to UTF-8 and index again"
        ) from exc
    nul = nul_bytes(raw, str(path))  # valid UTF-8, but binary (or UTF-16 without its mark): passages of NULs
    if nul:
        raise InputError(nul)
    return text.replace("\r\n", "\n").replace("\r", "\n")


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+|$)")
_UNDERLINE = re.compile(r" {0,3}(=+|-+)[ \t]*")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_BULLET = re.compile(r"([ \t]*)(?:[*+-]|(\d{1,9})[.)])[ \t]+")  # nested lists indent deeper than three spaces
_QUOTE = re.compile(r"(?: {0,3}>[ \t]?)+")  # "> > >": a quote in a quote in a quote
_CODE = re.compile(r"(`[^`\n]+`)")
# emphasis whose delimiters stand apart from words: "2**10", "2*3*4" and "__init__" are not emphasis
_STRONG = re.compile(r"(?<![\w*])\*\*(?=[^\s*])([^*\n]*?[^\s*])\*\*(?![\w*])"
                     r"|(?<![\w_])__(?=[^\s_])([^_\n]*?[^\s_])__(?![\w_])")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])"
                       r"|(?<![\w_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w_])")
# struck-through words are words the writer took back ("the auditor is ~~Bob~~ Carla Mendes")
_STRUCK = re.compile(r"(?<!~)~~(?=[^\s~])[^~\n]*?[^\s~]~~(?!~) ?")
# a table: a header row, a delimiter row (| --- | :-: |), then rows; each row is read as a sentence
_TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*(?:\|[ \t]*)?")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
# YAML front matter: "---" on the first line, "key: value" lines, "---" or "..." to close
_FRONT_KEY = re.compile(r"([a-z_][\w-]*)[ \t]*:(?:[ \t]+(.*))?")  # keys as static sites write them


def _heading(body: str) -> str:
    """A heading's words without a closing run of #s ("Learning C#" keeps its #)."""
    body = body.strip()
    bare = body.rstrip("#")
    return bare.rstrip() if bare != body and (not bare or bare[-1] in " \t") else body


def _links(line: str) -> str:
    """[text](target) and ![alt](src) as their text, scanning once: where no "]" or ")" is left
    in the line, no later link can close either."""
    out: list[str] = []
    i = 0
    while True:
        open_ = line.find("[", i)
        if open_ < 0:
            break
        close = line.find("]", open_ + 1)
        if close < 0:
            break
        if close + 1 < len(line) and line[close + 1] == "(":
            end = line.find(")", close + 2)
            if end < 0:
                break
            if "(" in line[close + 2 : end]:  # a target holding "(...)": up to its own closing ")"
                nxt = line.find(")", end + 1)
                end = nxt if nxt >= 0 else end
            start = open_ - 1 if open_ > 0 and line[open_ - 1] == "!" else open_
            out.append(line[i:start])
            out.append(line[open_ + 1 : close])
            i = end + 1
        else:
            out.append(line[i : close + 1])
            i = close + 1
    out.append(line[i:])
    return "".join(out)


# HTML written into Markdown (as a renderer shows it: the tags are not words): inline elements go,
# block ones leave a space between what they held; `<` that opens no such tag stays as written
_HTML_TAG = re.compile(r"</?(?:(a|abbr|b|cite|code|del|em|i|ins|kbd|mark|q|s|samp|small|span|strike|strong|"
                       r"sub|sup|tt|u|var)|(?:blockquote|br|caption|dd|details|div|dl|dt|figcaption|figure|h[1-6]|"
                       r"hr|img|li|ol|p|pre|summary|table|tbody|td|tfoot|th|thead|tr|ul))"
                       r"""(?:\s+[A-Za-z_:][-\w:.]*(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'=<>`]+))?)*\s*/?>""",
                       re.IGNORECASE)
# a backslash before ASCII punctuation is Markdown's escape (`my\_app`, `\*`): the character alone
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def _as_rendered(text: str) -> str:
    """What a Markdown renderer shows of a line's text outside code: its HTML tags gone and its
    character references (`&amp;`) read as the characters they stand for. A reader answered
    "02:00 &amp; 14:00" from them."""
    if "<" in text:
        text = _HTML_TAG.sub(lambda m: "" if m.group(1) else " ", text)
    # references closed by ";" alone, as CommonMark reads them: html.unescape also takes HTML's old
    # names without one ("?id=5&section=2" became "?id=5§ion=2", "&copy 2024" "© 2024")
    return _REFERENCE.sub(lambda m: html.unescape(m[0]), text) if "&" in text else text


_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


_KEPT = 0xF0000  # a private-use plane: an escaped character waits there while the markup is read
_RELEASED = re.compile("[\U000F0021-\U000F007E]")


def _inline(line: str) -> str:
    parts = _CODE.split(line)  # code spans keep what they hold
    for k in range(0, len(parts), 2):
        # a backslash escape (`my\_app`, `\*not\*`) is the character, never markup: kept apart until the end
        escaped = "\\" in parts[k]
        text = _ESCAPED.sub(lambda m: chr(_KEPT + ord(m.group(1))), parts[k]) if escaped else parts[k]
        plain = _STRONG.sub(lambda m: m.group(1) or m.group(2), _links(_STRUCK.sub("", text)))
        text = _as_rendered(_EMPHASIS.sub(lambda m: m.group(1) or m.group(2), plain))
        parts[k] = _RELEASED.sub(lambda m: chr(ord(m.group(0)) - _KEPT), text) if escaped else text
    for k in range(1, len(parts), 2):
        parts[k] = parts[k][1:-1]
    return "".join(parts)


def _drop_comments(text: str) -> str:
    """HTML comments that open a line (a comment's "<!--" inside a sentence or a code span is text)."""
    out: list[str] = []
    i = 0
    while (start := text.find("<!--", i)) >= 0:
        if start > 0 and text[start - 1] != "\n":
            out.append(text[i : start + 4])
            i = start + 4
            continue
        end = text.find("-->", start + 4)
        if end < 0:
            break
        out.append(text[i:start])
        i = end + 3
    out.append(text[i:])
    return "".join(out)


def markdown_document(text: str) -> tuple[str, str]:
    """(title, words) of a Markdown file. The words without the markup: a reader answering from the
    passage would otherwise take "##" or "**" into a span. Headings become lines of their own,
    links and images their text, strong emphasis, bullets, quotes, rules, code-fence lines and
    comments go; a fence's contents stay as written; the words and their order stay. The title is
    the first level-one heading (`# Title`, or a line underlined with `===`). One pass over the
    lines, with no pattern that can backtrack over a long line."""
    title, lines = _front_matter(_drop_comments(text).split("\n"))
    out: list[str] = []
    fence = ""
    table = False
    for n, line in enumerate(lines):
        f = _FENCE.match(line)
        if fence:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence) and not line[f.end():].strip():
                fence = ""
            else:
                out.append(line)
            continue
        if f:
            fence = f.group(1)
            continue
        if table and "|" in line and line.strip():
            out.append(_row(line))
            continue
        table = False
        if ("|" in line and n + 1 < len(lines) and "-" in lines[n + 1] and _TABLE_DELIMITER.fullmatch(lines[n + 1])
                and _cells(line) == _cells(lines[n + 1])):  # as many cells: "a | b" over "---" is a heading
            table = True
            out.append(_row(line))
            continue
        under = _UNDERLINE.fullmatch(line)
        if under and out and out[-1].strip():  # the line above is a heading: its words stay
            if under.group(1)[0] == "=" and not title:
                title = out[-1].strip()
            continue
        if _RULE.fullmatch(line):
            out.append("")
            continue
        h = _ATX.match(line)
        if h:
            words = _heading(line[h.end():])
            if len(h.group(1)) == 1 and not title:
                title = _inline(words)
            out.append(_inline(words))
            continue
        q = _QUOTE.match(line)
        if q:
            line = line[q.end():]
        b = _BULLET.match(line)
        if b:
            line = b.group(1) + (f"{b.group(2)}. " if b.group(2) else "") + line[b.end():]
        out.append(_inline(line))
    return title.strip(), re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _cells(line: str) -> int:
    return len(_CELL_SPLIT.split(line.strip().strip("|")))


def _row(line: str) -> str:
    """A table row as a sentence of its cells ("| Jenkins | Olga |" -> "Jenkins, Olga."); the
    delimiter row under the header is no words at all."""
    if _TABLE_DELIMITER.fullmatch(line):
        return ""
    cells = [_inline(c.strip().replace("\\|", "|")) for c in _CELL_SPLIT.split(line.strip().strip("|"))]
    text = ", ".join(c for c in cells if c)
    return text + "." if text and text[-1] not in ".!?:;," else text


def _front_matter(lines: list[str]) -> tuple[str, list[str]]:
    """(its `title`, the lines after it) where the file opens with YAML front matter (a static
    site's `---` block of `key: value` lines): metadata, not words of the document."""
    if not lines or lines[0].strip() != "---":
        return "", lines
    title = ""
    for n, line in enumerate(lines[1:], start=1):
        if line.strip() in {"---", "..."}:
            return title, lines[n + 1:]
        key = _FRONT_KEY.fullmatch(line)
        if key is None and not line[:1].isspace() and not line.startswith("- ") and line.strip():
            return "", lines  # not YAML: a rule, then text
        if key is not None and key.group(1).lower() == "title" and not title:
            title = (key.group(2) or "").strip().strip("\"'")
    return "", lines


def read_documents(path: Path, rel: str) -> Iterator[Document]:
    """Documents in one file; `rel` is the name used in ids and sources."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _read_jsonl(path, rel)
        return
    kind = TEXT_SUFFIXES.get(suffix)
    if kind is None:
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(SUFFIXES)}")
    text = read_text_file(path)
    title = ""
    if kind == "html":
        title, text = html_to_text(text)
    elif kind == "markdown":
        title, text = markdown_document(text)
    if text.strip():
        yield Document(doc_id=rel, text=text, title=title or path.stem, source=rel)


def _holds_nul(value: object) -> bool:
    """Whether a parsed JSON value holds U+0000 anywhere (a key, a string, nested metadata)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _read_jsonl(path: Path, rel: str) -> Iterator[Document]:
    text = read_text_file(path)
    blank: list[int] = []  # records whose text is only spaces: left out, and said (they were silently)
    for lineno, obj in json_lines(text, str(path), "text", strict=True):
        where = f"{path}:{lineno}"
        given = obj.get("id")
        if isinstance(given, float) and given.is_integer():  # 1.0: an integer column written with gaps
            given = int(given)
        if given is not None and (isinstance(given, bool) or not isinstance(given, str | int)):
            raise DataFormatError(f'{where}: "id" must be a string or an integer, not {json.dumps(given)[:40]}')
        if not isinstance(obj.get("title", ""), str | None):
            raise DataFormatError(f'{where}: "title" must be a string')
        if _holds_nul(obj):
            raise DataFormatError(f"{where}: the document holds a NUL character (U+0000), as a binary file does")
        doc_id = str(given) if given not in (None, "") else f"{rel}:{lineno}"
        meta = {k: v for k, v in obj.items() if k not in {"id", "text", "title"}}
        if not obj["text"].strip():
            blank.append(lineno)
            continue
        yield Document(
            doc_id=doc_id,
            text=obj["text"],
            title=str(obj.get("title") or ""),
            source=f"{rel}:{lineno}",
            metadata=meta,
        )
    if blank:
        lines = ", ".join(map(str, blank[:10])) + (f" and {len(blank) - 10} more" if len(blank) > 10 else "")
        log.warning("%s: left out %s whose text is empty (line%s %s)", path,
                    _many(len(blank), "record"), "s" if len(blank) > 1 else "", lines)


def _check_name(path: Path) -> None:
    """A name that is not UTF-8 (undecodable bytes arrive as lone surrogates) can be neither stored
    nor shown: refused before encoding, not as a traceback from the passage store after it."""
    if SURROGATE.search(str(path)):
        shown = os.fsencode(path).decode("ascii", "backslashreplace")
        raise InputError(f"the name {shown} is not UTF-8 text; rename it (or move it out) and index again")


_PLURALS = {"hidden file or folder (its name starts with '.')": "hidden files and folders (their names start with '.')",
            "link that leads nowhere": "links that lead nowhere",
            "special file (pipe, device)": "special files (pipes, devices)"}


def _many(n: int, what: str) -> str:
    """ "1 .pdf file", "2 .pdf files": a count and what it counts."""
    return f"{n:,} {what if n == 1 else _PLURALS.get(what, what + 's')}"


def discover(path: str | Path) -> list[tuple[Path, str]]:
    """Files to index under `path` (a file or a folder, searched recursively), with their names.

    Hidden files and folders are skipped; so are, inside folders, files of other types, linked
    folders and links that lead nowhere, which are counted in a warning. A single file given
    directly must have a supported suffix; a folder that cannot be read is an error, as an
    unreadable file is.
    """
    root = Path(path)
    if not root.exists():
        if os.path.lexists(root):
            raise InputError(f"{root} is a link that leads nowhere (a loop, or its target is gone)")
        raise InputError(f"no such file or folder: {root}")
    _check_name(root.expanduser().resolve())  # kept in the index's manifest
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES:
            raise InputError(f"{root}: unsupported file type; use {', '.join(SUFFIXES)}")
        return [(root, root.name)]
    if not root.is_dir():
        raise InputError(f"{root} is neither a file nor a folder (a device or a pipe?)")
    # the folder's own name, also when it was given as "." or "..": ids do not depend on how it was typed
    name = root.expanduser().resolve().name or "root"

    def unreadable(exc: OSError) -> None:
        raise InputError(f"cannot read the folder {exc.filename}: {exc.strerror or exc}")

    found: list[Path] = []
    skipped: Counter[str] = Counter()
    for folder, subfolders, names in os.walk(root, onerror=unreadable):  # linked folders are not entered
        hidden = [d for d in subfolders if d.startswith(".")] + [f for f in names if f.startswith(".")]
        if hidden:  # a note in a dot-folder never answered, without a word
            skipped["hidden file or folder (its name starts with '.')"] += len(hidden)
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        linked = sum(os.path.islink(os.path.join(folder, d)) for d in subfolders)
        if linked:  # a key at 0 would make every folder say "skipped 0 linked folders"
            skipped["linked folder"] += linked
        for file in names:
            p = Path(folder) / file
            if file.startswith("."):
                continue
            if p.suffix.lower() not in SUFFIXES:
                skipped[f"{p.suffix.lower() or 'no suffix'} file"] += 1
            elif not p.is_file():
                skipped["link that leads nowhere" if not p.exists() else "special file (pipe, device)"] += 1
            else:
                found.append(p)
    if skipped:
        log.warning("skipped %s under %s (indexed: %s)",
                    ", ".join(_many(n, what) for what, n in skipped.most_common()), root, ", ".join(SUFFIXES))
    files: list[tuple[Path, str]] = []
    for p in sorted(found):
        _check_name(p)
        files.append((p, f"{name}/{p.relative_to(root).as_posix()}"))
    if not files:
        raise NoDocumentsError(f"{root} holds no {', '.join(SUFFIXES)} files")
    return files
