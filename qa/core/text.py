"""Text input shared by every layer: question checks and reading (possibly compressed) UTF-8 files.

One implementation, so the CLI, the API and every source reject the same bad input with the same
message: an empty or oversized question, bytes that are not UTF-8 (on a POSIX command line they
arrive as lone surrogates), a file that cannot be decompressed. Also text without its accents, as
users type names ("Łódź" as "Lodz"), for the places that compare or file names so.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import math
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from qa.core.errors import DataFormatError, InputError

MAX_QUESTION_CHARS = 2_000
# Python decodes undecodable argv / stdin bytes to lone surrogates (PEP 383); real text never has them.
SURROGATE = re.compile(r"[\ud800-\udfff]")
NEWLINE = b"\n"
_OPENERS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}


def check_text(text: object, what: str, max_chars: int, *, stored: bool = False) -> str:
    """`text` stripped, or an `InputError` naming `what` when it is not usable text. `stored`
    (text a store keeps): also without a NUL, which cuts it short for whatever reads it as a C
    string (a passage read once may hold one, from a PDF)."""
    if not isinstance(text, str):
        raise InputError(f"the {what} must be text")
    if SURROGATE.search(text):
        raise InputError(f"the {what} is not valid UTF-8 text")
    if stored and "\x00" in text:
        raise InputError(f"the {what} holds a NUL character (U+0000)")
    stripped = text.strip()
    if not stripped:
        raise InputError(f"the {what} is empty")
    if len(stripped) > max_chars:
        raise InputError(f"the {what} is {len(stripped):,} characters long; the limit is {max_chars:,}")
    return stripped


ANSWER_CHARS = 500  # longer answers (a graph literal can be megabytes) are cut where they are shown


def counted(n: int, word: str) -> str:
    """"1 thread", "2 threads", "-1 vote", "1,000 questions": what summaries and evidence say."""
    return f"{n:,} {word}" + ("" if abs(n) == 1 else "s")


def clip(text: object, limit: int = ANSWER_CHARS) -> str:
    """An answer as shown to a person (terminal, UI); `--json` and the API keep it whole."""
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit].rstrip() + f"… ({len(text):,} characters)"


def check_question(text: object, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """`check_text` for a question, which must also hold a letter or a digit: zero-width spaces,
    control characters or punctuation alone would be answered "no answer" as if they were asked."""
    return check_words(check_text(text, "question", max_chars), "question")


def has_words(text: str) -> bool:
    """Whether `text` holds a letter or a digit: "...", an emoji or a zero-width space does not."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def check_words(text: str, what: str) -> str:
    """`text` if it holds a letter or a digit, else an `InputError`."""
    if not has_words(text):
        raise InputError(f"the {what} has no words (no letter or digit)")
    return text


def decode_utf8(raw: bytes, where: str) -> str:
    """Bytes as text (a BOM is dropped), or an `InputError` that says where the bad byte is."""
    nul = nul_bytes(raw, where)
    if nul:
        raise InputError(nul)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not UTF-8 text (undecodable byte at offset {exc.start})") from exc


def nul_bytes(raw: bytes, where: str) -> str:
    """What is wrong with text holding NUL bytes ("" when it holds none): UTF-16 without its
    byte-order mark (a Windows export: every other byte is NUL), or binary. Such bytes decode as
    UTF-8, and were read as questions made of "W\x00h\x00a\x00t" and answered, exit 0."""
    at = raw.find(0)
    if at < 0:
        return ""
    head = raw[:200]
    half = len(head) // 2
    # one half of the bytes NUL and the other not (all zeros is binary, not UTF-16)
    if half >= 2 and any(zeros.count(0) >= 0.8 * half and others.count(0) <= 0.2 * half
                         for zeros, others in ((head[1::2], head[0::2]), (head[0::2], head[1::2]))):
        return f"{where} is UTF-16 text without a byte-order mark; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"
    return f"{where} looks binary (it holds NUL bytes at byte {at:,}), not text"


def _checked(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if p.is_dir():
        raise InputError(f"{p} is a folder, not a file")
    return p


_ARCHIVES = ((b"\x1f\x8b", "gz"), (b"\xfd7zXZ\x00", "xz"))  # magic numbers no UTF-8 text opens with


def compressed_as(head: bytes) -> str | None:
    """ "gz" or "xz" for bytes that open with that archive's magic number, else None."""
    return next((kind for magic, kind in _ARCHIVES if head.startswith(magic)), None)


def other_encoding(path: Path, head: bytes) -> DataFormatError | None:
    """What a file that opens with `head` is, where that says more than "not UTF-8 text (line 1,
    byte 0)": UTF-16 (a Windows editor's "Unicode"), or an archive not named as one."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return DataFormatError(f"{path} is UTF-16 text; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)")
    packed = compressed_as(head)
    if packed and path.name.lower().endswith((".gz", ".xz", ".bz2")):  # what was unpacked is an archive again
        return DataFormatError(f"{path} is compressed twice (a .{packed} inside): unpack it once, and give what "
                               "it holds")
    if packed:
        return DataFormatError(f"{path} is {packed}-compressed: name it with .{packed} at the end, or unpack it")
    return None


def read_text(path: str | Path, max_chars: int | None = None) -> str:
    """A whole file's text, decompressing `.gz`, `.xz` and `.bz2` by suffix (`open_binary`, so a
    corrupt archive is the same one error everywhere). With `max_chars`, a longer file is refused
    after reading at most four bytes a character: a small archive can unpack to gigabytes."""
    p = _checked(path)
    cap = None if max_chars is None else max_chars * 4 + 4
    try:
        with open_binary(p) as fh:
            raw = fh.read() if cap is None else fh.read(cap)
    except OSError as exc:
        raise DataFormatError(f"{p}: cannot read ({exc})") from exc
    if cap is not None and len(raw) >= cap:
        raise InputError(f"{p} is longer than the limit of {max_chars:,} characters")
    other = other_encoding(p, raw[:8])
    if other is not None:
        raise other
    nul = nul_bytes(raw, str(p))
    if nul:
        raise DataFormatError(nul)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(f"{p}: not UTF-8 text (line {line:,}, byte {exc.start:,})") from exc


def _misnamed(path: Path) -> DataFormatError | None:
    """A file whose name says one compression and whose bytes say another, or none: it had been
    called "truncated or corrupt"."""
    named = path.suffix.lower().lstrip(".")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    actual = compressed_as(head) or ("bz2" if head.startswith(b"BZh") else None)
    if actual == named:
        return None
    what = f"{actual}-compressed" if actual else "not compressed"
    return DataFormatError(f"{path} is named .{named} but is {what}: rename it to say what it is")


class _Decompressed(io.RawIOBase):
    """A decompressing stream whose read errors name the file: a truncated or corrupt archive (or
    a plain file with a `.gz` name) raises `DataFormatError`, not zlib's, lzma's or an EOFError
    (which the command line would take for Ctrl-D)."""

    def __init__(self, inner: IO[bytes], path: Path) -> None:
        self._inner, self._path = inner, path
        # the compressed file underneath, whose position tells how much of the input is read
        self.fileobj = getattr(inner, "_fp", None) or getattr(inner, "fileobj", None) or inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            raise _misnamed(self._path) or DataFormatError(
                f"{self._path}: truncated or corrupt compressed file ({exc})") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_binary(path: str | Path) -> IO[bytes]:
    """A streaming binary handle (decompressing by suffix), for files too large to read whole."""
    p = _checked(path)
    opener = _OPENERS.get(p.suffix.lower())
    try:
        if opener is None:
            return open(p, "rb")  # noqa: SIM115
        return io.BufferedReader(_Decompressed(opener(p, "rb"), p))
    except OSError as exc:
        raise DataFormatError(f"cannot open {p}: {exc}") from exc


def decompress_capped(path: str | Path, out: str | Path, max_bytes: int, name: str = "") -> Path:
    """Write `path` decompressed (by suffix, as `open_binary`) to `out`, refusing more than
    `max_bytes`: a few hundred kilobytes of gzip can hold gigabytes, and an upload's size limit
    must hold for what it unpacks to, not only for what was sent."""
    out = Path(out)
    total = 0
    with open_binary(path) as src, out.open("wb") as dst:
        while chunk := src.read(1 << 20):
            total += len(chunk)
            if total > max_bytes:
                raise InputError(f"{name or Path(path).name} decompresses to more than "
                                 f"{max_bytes / 1e6:g} MB, the limit for an upload")
            dst.write(chunk)
    return out


def input_position(fh: IO[bytes]) -> int:
    """Bytes consumed of the file under a handle from `open_binary` (the compressed file when it
    decompresses), for progress over the file's size."""
    raw = getattr(getattr(fh, "raw", None), "fileobj", None) or fh
    try:
        return int(raw.tell())
    except (OSError, ValueError, AttributeError):
        return 0


def utf8_error_place(path: str | Path) -> str:
    """Where a file's first byte that is not UTF-8 is ("line 12, byte 65,800"), for an error
    message: a streaming decoder only knows its place in the chunk it was decoding."""
    fh = open_binary(path)
    base, lines, carry = 0, 0, b""
    try:
        while chunk := fh.read(1 << 20):
            buf = carry + chunk
            try:
                buf.decode("utf-8")
                carry = b""
            except UnicodeDecodeError as exc:
                if exc.reason != "unexpected end of data" or len(buf) - exc.start > 3:
                    at, line = base + exc.start, lines + buf[: exc.start].count(NEWLINE) + 1
                    return f"line {line:,}, byte {at:,}"
                carry = buf[exc.start:]
                buf = buf[:exc.start]
            base += len(buf)
            lines += buf.count(NEWLINE)
    finally:
        fh.close()
    return f"byte {base:,}" if carry else "somewhere"


def open_text(path: str | Path) -> IO[str]:
    """A streaming UTF-8 text handle (decompressing by suffix)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="")


# a \uD800-\uDFFF escape: the only way JSON text can carry a lone surrogate (a pair is an emoji)
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class _Unsound(ValueError):
    """What `json.loads` lets by and a strict reading refuses (see `parse_json`)."""


def _pairs_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Unsound(f"the field {k!r} is given twice in one object (which one is meant?)")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise _Unsound(f"{name} is not a JSON value")


class WrittenNumber(float):
    """A JSON number that a user's record gives where a text is stored (an answer of `3.10`, a
    version): it computes as the float, and reads (`str`) as it was written, not as `3.1`."""

    written: str

    def __new__(cls, number: str) -> WrittenNumber:
        value = super().__new__(cls, number)
        value.written = number
        return value

    def __getnewargs__(self) -> tuple[str]:  # type: ignore[override]  # a copy or a pickle reads as written
        return (self.written,)

    def __str__(self) -> str:
        return self.written


def _finite(number: str) -> float:
    value = WrittenNumber(number)
    if math.isinf(value):
        raise _Unsound(f"{number[:40]} is beyond any number a float holds")
    return value


def parse_json(text: str, where: str, *, line_of_file: bool = False, strict: bool = False) -> Any:
    """A user's JSON text, parsed, or a `DataFormatError` naming `where` and the place: invalid
    JSON, nesting too deep for the parser (a RecursionError otherwise), or a string holding a
    lone surrogate escape such as "\\udce9" (valid JSON, but not text: the tokenizers and SQLite
    refuse it half-way through the work). `strict` (records a user writes, whose every field is
    stored): also a field given twice in one object (the last would win without a word), NaN or
    Infinity (not JSON) and a number too large for a float."""
    hooks: dict[str, Any] = ({"object_pairs_hook": _pairs_once, "parse_constant": _no_constant,
                              "parse_float": _finite} if strict else {})
    try:
        doc = json.loads(text, **hooks)
    except _Unsound as exc:
        raise DataFormatError(f"{where}: {exc}") from None
    except json.JSONDecodeError as exc:
        if line_of_file:  # `where` already names the line
            raise DataFormatError(f"{where}: invalid JSON ({exc.msg}, column {exc.colno})") from None
        raise DataFormatError(f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise DataFormatError(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts (4,300)
        raise DataFormatError(f"{where}: {exc}") from None
    if _ESCAPED_SURROGATE.search(text):  # rare: only then walk the document
        bad = _lone_surrogate(doc, "")
        if bad is not None:
            raise DataFormatError(f"{where}: {bad or 'the document'} is not valid UTF-8 text (a lone "
                                  "surrogate escape such as \\udce9)")
    return doc


def _lone_surrogate(obj: Any, at: str) -> str | None:
    """The place (`data[0].context`) of the first string holding a lone surrogate, or None."""
    stack: list[tuple[Any, str]] = [(obj, at)]
    while stack:  # depth first, children pushed in reverse: the first bad string as the file has it
        node, place = stack.pop()
        if isinstance(node, str):
            if SURROGATE.search(node):
                return place
        elif isinstance(node, dict):
            for k in node:
                if SURROGATE.search(k):
                    return f"a key in {place}" if place else "a key"
            stack.extend((v, f"{place}.{k}" if place else k) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, f"{place}[{i}]") for i, v in reversed(list(enumerate(node))))
    return None


def json_of(text: str) -> Any:
    """`json.loads` for a file of ours (a manifest, a model's head, a calibration, a settings
    file's JSON): one nested past the parser's depth (damaged, or a hostile copy) is a
    `JSONDecodeError` like any other malformed file, which every loader catches and says, not a
    RecursionError that none expects (a traceback, and `qa index --delete` could not remove it)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text[:200], 0) from None


def json_file(path: str | Path) -> Any:
    """A JSON file of ours, read as UTF-8 and parsed as `json_of` parses."""
    return json_of(Path(path).read_text(encoding="utf-8"))


def json_lines(text: str, where: str, field: str, *, strict: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON-lines text; a line that is not an
    object with a `field` string is one error naming the line, so a file is checked whole before
    anything is done with it. `strict` as for `parse_json` (records that are stored)."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        obj = parse_json(line, f"{where}:{lineno}", line_of_file=True, strict=strict)
        if not isinstance(obj, dict) or not isinstance(obj.get(field), str):
            raise DataFormatError(f'{where}:{lineno}: each line must be an object with a "{field}" string')
        yield lineno, obj


# C0 and C1 control characters but tab and newline: in a terminal they are commands, not text
_CONTROL = {c: "\ufffd" for c in [*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f, *range(0x80, 0xa0)]}
_CONTROL[0x0d] = " "


def printable(text: str) -> str:
    """Text safe to write to a terminal: a passage or a title holding escape sequences (clear the
    screen, retitle the window, hide a link) shows them as U+FFFD instead of obeying them. One
    character for one, so offsets into the text (an answer's span) still hold."""
    return text.translate(_CONTROL)


# full-width forms of ASCII (U+FF01-U+FF5E, typed by CJK input methods: "４５", "ＡＢＣ") and the
# ideographic space, as their ASCII characters
_WIDE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def folded(text: str) -> str:
    """`text` with full-width letters, digits and signs as ASCII ("４５" is "45"), one character
    for one, so offsets into it hold for the original: what the reader and the word matching read,
    the text shown unchanged. The reader's vocabulary has no "４"; the question's "45" met
    nothing in a passage's "４５"."""
    return text.translate(_WIDE) if _ANY_WIDE.search(text) else text  # translate is slow on any non-ASCII text


_ANY_WIDE = re.compile("[\uff01-\uff5e\u3000]")


def comparable(text: str) -> str:
    """`text` as words are compared: `folded`, and composed (NFC), so "Renée" saved decomposed (an
    "e" and a combining accent, as some editors save it) is the word typed: a regular expression's
    word class stops at the accent. Not one character for one: for matching, not for offsets."""
    return unicodedata.normalize("NFC", folded(text))


# letters that carry no separable accent, so NFKD leaves them non-ASCII
_UNDECOMPOSABLE = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
                                 "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D",
                                 "ı": "i"})


def unaccented(text: str) -> str:
    """The text without accents: decomposed and its combining marks dropped, and the letters that
    do not decompose written in plain ones ("Übersicht" -> "Ubersicht", "Łódź" -> "Lodz")."""
    text = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(c for c in text if not unicodedata.combining(c))
