"""The thread store: already-answered questions, their answers and duplicate links, in SQLite.

One file, transactional. Every import runs in ONE transaction, and threads and answers carry a
unique (source, external id), so importing a file twice, or killing an import and running it
again, leaves exactly one copy of each thread and never half a thread: either the whole file is
in, or none of it. Threads are embedded in a separate step (the vector is stored with the thread,
so the dense index can always be rebuilt without re-encoding), which is why an import costs no
model and its memory stays flat.

Write-ahead logging lets a running engine keep reading while an import or an accepted answer is
being written by another process.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.atomic import disk_full, write_refused
from qa.core.errors import BusyError, ConfigError, DataFormatError, InputError, NotFoundError, unreadable_as
from qa.core.text import check_text, check_words, json_file

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 1_000
MAX_TEXT_CHARS = 200_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    key      INTEGER PRIMARY KEY,
    uid      TEXT NOT NULL UNIQUE,
    source   TEXT NOT NULL,
    ext_id   TEXT NOT NULL,
    title    TEXT NOT NULL DEFAULT '',
    body     TEXT NOT NULL DEFAULT '',
    tags     TEXT NOT NULL DEFAULT '[]',
    created  TEXT NOT NULL DEFAULT '',
    url      TEXT NOT NULL DEFAULT '',
    accepted_ext TEXT,
    author   TEXT NOT NULL DEFAULT '',
    vector   BLOB
);
CREATE TABLE IF NOT EXISTS answers (
    key        INTEGER PRIMARY KEY,
    thread_key INTEGER NOT NULL REFERENCES threads(key) ON DELETE CASCADE,
    ext_id     TEXT NOT NULL,
    text       TEXT NOT NULL,
    votes      INTEGER,
    accepted   INTEGER NOT NULL DEFAULT 0,
    created    TEXT NOT NULL DEFAULT '',
    author     TEXT NOT NULL DEFAULT '',
    vector     BLOB,
    UNIQUE (thread_key, ext_id)
);
CREATE INDEX IF NOT EXISTS answers_thread ON answers(thread_key);
CREATE INDEX IF NOT EXISTS answers_ext ON answers(ext_id);
CREATE TABLE IF NOT EXISTS links (
    thread_key INTEGER NOT NULL REFERENCES threads(key) ON DELETE CASCADE,
    target_key INTEGER NOT NULL REFERENCES threads(key) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    PRIMARY KEY (thread_key, target_key, kind)
);
CREATE TABLE IF NOT EXISTS pending_answers (
    source TEXT NOT NULL, parent_ext TEXT NOT NULL, ext_id TEXT NOT NULL, text TEXT NOT NULL,
    votes INTEGER, created TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (source, parent_ext, ext_id)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_SCHEMA_NAMES = set(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", _SCHEMA))


@functools.cache
def _thread_columns() -> tuple[str, ...]:
    """The columns of the schema's threads table, read from the schema itself so the two cannot drift."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.executescript(_SCHEMA)
        return tuple(str(row[1]) for row in conn.execute("PRAGMA table_info(threads)"))


BUSY_TIMEOUT_MS = 30000  # how long a write waits for another process's (an import commits in one go)
USER_WAIT_MS = 2000  # how long a user's own write waits (`no_wait`): another server's takes milliseconds


def _may_write(path: Path) -> bool:
    """Whether this user may write the file or folder; `os.access` also says no for a read-only
    disk, to root too."""
    return os.access(path, os.W_OK)


def _read_only_disk(path: Path) -> bool:
    """Whether the file system holding `path` is mounted read-only (nobody writes it there)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _writable_file(path: Path) -> bool:
    """Whether this user may write the file and its folder (SQLite writes its journal beside it)."""
    return _may_write(path) and _may_write(path.parent)


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite gave up waiting for a lock another connection holds; told by the error code,
    as the message text is no interface."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


SEED_META = "seed"  # meta entry: "done" once the packaged seed is imported, "skip" for a store an import created


class SourceKind(StrEnum):
    """What filled a source. An import updates its source as the new version of its file, and with
    `--prune` removes what the file no longer gives, so it must never take over a source another
    kind of writer filled: an FAQ imported as `--source stackexchange:site --prune` would delete
    the dump's threads, and one imported as `--source accepted` the answers users accepted."""

    FAQ = "faq"
    STACKEXCHANGE = "stackexchange"
    SEMEVAL = "semeval"
    USER = "user"

    @property
    def described(self) -> str:
        return {SourceKind.FAQ: "an FAQ file's threads", SourceKind.STACKEXCHANGE: "a StackExchange dump's threads",
                SourceKind.SEMEVAL: "SemEval threads",
                SourceKind.USER: "questions and answers filed by users (the API, the UI, `qa cqa add`)"}[self]


# where the API, the UI and `qa cqa add` file what users give: never an import's source
USER_SOURCES = ("api", "accepted", "user")


_SEMEVAL_ID = re.compile(r"Q\d+_R\d+")


class StoreBusy(BusyError):
    """Another process holds the store's write lock (see `ThreadStore.no_wait`)."""


def _checked_question(title: str, body: str) -> tuple[str, str]:
    title = check_words(check_text(title, "question title", MAX_TITLE_CHARS, stored=True), "question title")
    return title, (check_text(body, "question body", MAX_TEXT_CHARS, stored=True) if body and body.strip() else "")


class Put(StrEnum):
    """What writing a thread or an answer that may be stored already did."""

    ADDED = "added"
    UPDATED = "updated"
    SAME = "same"


@dataclass
class StoredAnswer:
    key: int
    id: str
    text: str
    votes: int | None = None
    accepted: bool = False
    created: str = ""
    author: str = ""


@dataclass
class Thread:
    key: int
    uid: str
    source: str
    ext_id: str
    title: str
    body: str
    tags: list[str] = field(default_factory=list)
    created: str = ""
    url: str = ""
    author: str = ""
    answers: list[StoredAnswer] = field(default_factory=list)
    duplicate_of: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        """What the thread's question is matched by: title, then body."""
        return thread_text(self.title, self.body)

    def record(self) -> dict[str, Any]:
        """The thread as `qa cqa show --json` prints it and `GET /v1/threads/{id}` returns it."""
        return {"thread_id": self.uid, "source": self.source, "question": self.title, "body": self.body,
                "tags": self.tags, "url": self.url, "created": self.created,
                "answers": [{"answer_id": a.id, "text": a.text, "accepted": a.accepted, "votes": a.votes,
                             "created": a.created, "author": a.author} for a in self.answers]}


INDEX_META = "dense.json"  # in the index folder: the encoder, the store's id and the highest key indexed


def index_folder(store_path: str | Path) -> Path:
    """Where a store's index files live: beside the store, `<name>.index/`."""
    p = Path(store_path)
    return p.with_name(p.name + ".index")


def thread_text(title: str, body: str) -> str:
    title, body = (title or "").strip(), (body or "").strip()
    if not body or body.lower().startswith(title.lower()):
        return body or title
    if not title:
        return body
    sep = " " if title.endswith(("?", ".", "!", ":")) else ". "
    return f"{title}{sep}{body}"


def full_text(thread: Thread) -> str:
    """A thread's question and all its answers, the text its topic is judged by."""
    return "\n".join([thread.text, *(a.text for a in thread.answers)])


def make_uid(source: str, ext_id: str) -> str:
    return f"{source}:{ext_id}"


# SQLite's integers: a vote count past them would be stored as text and sort as no number does
_MAX_VOTES = 2**63 - 1


def check_votes(votes: object) -> int | None:
    """A vote count given through the Python API: a whole number or None. Stored as given, a "many"
    broke every later question matching its thread (answers are ordered by votes)."""
    if votes is None:
        return None
    if isinstance(votes, bool) or not isinstance(votes, int):
        raise InputError(f"votes must be a whole number, not {votes!r}")
    if abs(votes) > _MAX_VOTES:
        raise InputError(f"votes out of range: {votes}")
    return votes


def check_tags(tags: object) -> list[str]:
    """Tags as a list of strings; one string is refused rather than read as its letters."""
    if isinstance(tags, str):
        raise InputError(f"tags must be a list of strings, not one string: tags=[{tags!r}]")
    try:
        out = list(tags)  # type: ignore[call-overload]
    except TypeError:
        raise InputError(f"tags must be a list of strings, not {type(tags).__name__}") from None
    bad = [t for t in out if not isinstance(t, str)]
    if bad:
        raise InputError(f"tags must be strings, not {bad[0]!r}")
    return [check_text(t, "tag", MAX_TITLE_CHARS, stored=True) for t in out]


def content_id(*texts: str) -> str:
    """The identity of texts: case, spacing and Unicode composition do not matter (the same FAQ
    saved by another editor as NFD is the same FAQ; a question sent again is the same question)."""
    words = (" ".join(unicodedata.normalize("NFC", t).lower().split()) for t in texts)
    joined = "\x1f".join(w for w in words if w)  # a question without a body is its title alone
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _whole_copy(path: Path, settle_s: float = 1.0) -> None:
    """A store copied without its write-ahead log (`cp threads.sqlite` while a server runs): the
    file is a header whose threads are all in the `-wal` left behind, and it was taken for a new,
    empty store without a word (and seeded). Said, with what to copy. A store another process is
    creating this moment looks the same for an instant: it is given `settle_s` to get its tables."""
    deadline = time.monotonic() + settle_s
    while True:
        try:
            with open(path, "rb") as fh:
                head = fh.read(100)
        except OSError:
            return
        wal_mode = len(head) == 100 and head[:16] == b"SQLite format 3\x00" and head[18] == 2 and head[19] == 2
        if not wal_mode or path.with_name(path.name + "-wal").exists():
            return
        try:
            # immutable: no -wal or -shm made beside it (a second open took those for the copy's own)
            with contextlib.closing(sqlite3.connect(f"file:{path.resolve()}?mode=ro&immutable=1", uri=True)) as conn:
                tables = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError:
            return
        if tables:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if not tables:
        raise DataFormatError(f"{path} holds no tables: a thread store copied without its {path.name}-wal file "
                              "(which holds its threads while a server has it open)? Copy both, or make the copy "
                              f"with `sqlite3 {path.name} \".backup COPY\"`; a store whose creation was cut short "
                              "holds nothing: delete it")


class ThreadStore:
    """Threads and answers in one SQLite file (created when missing)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise NotFoundError(f"thread store not found: {self.path}")
        if not read_only and self.path.is_dir():
            raise InputError(f"the thread store {self.path} is a folder: give the path of a .sqlite file")
        if self.path.exists() and not self.path.is_dir() and not self.path.is_file():  # SQLite waited on a pipe
            raise InputError(f"the thread store {self.path} is not a regular file (a device or a pipe)")
        # a store this user may read but not write (a read-only deployment, another user's file) is
        # opened for reading: it answers, and a write is refused saying why (it was a traceback at the
        # first write, and in a read-only folder the store did not open at all)
        self.unwritable = not read_only and self.path.is_file() and not _writable_file(self.path)
        self.read_only = read_only or self.unwritable
        _whole_copy(self.path)
        try:
            if self.read_only:
                self._conn = self._open_reading()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot use the thread store {self.path}: {exc}") from None
        self._lock = threading.RLock()
        self._depth = 0
        self._naming = False  # `first_naming`'s table exists in this transaction
        self._wait_ms = BUSY_TIMEOUT_MS
        try:
            self._conn.execute(f"PRAGMA busy_timeout={self._wait_ms}")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._refuse_foreign()
            if not self.read_only:
                self._conn.execute("PRAGMA synchronous=FULL")
                # a deleted thread's text is overwritten, not left in free pages until a VACUUM (the
                # default of many SQLite builds): deleting is how a user's data is taken out
                self._conn.execute("PRAGMA secure_delete=ON")
                wal = str(self._conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
                if not (wal and self._schema_current()):  # a write: it waits for an import holding the store
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.executescript(_SCHEMA)
                    # stores older than the key high-water mark: start it at their highest key
                    self._conn.execute("INSERT OR IGNORE INTO meta(name, value) "
                                       "SELECT 'max_key', CAST(COALESCE(MAX(key), 0) AS TEXT) FROM threads")
                    # which store an index folder beside it was built for: a new store at the same
                    # path (the old file deleted, a backup restored) starts its keys at 1 again
                    self._conn.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('store_id', ?)",
                                       (uuid.uuid4().hex,))
            self._conn.execute("SELECT key FROM threads LIMIT 1").fetchall()
            if not self.read_only:
                self._behind_its_index()
        except sqlite3.OperationalError as exc:  # cannot be opened or written (permissions, a read-only disk)
            self._conn.close()
            if _is_busy(exc):  # creating the schema waited for another process's write
                raise self._busy() from None
            raise ConfigError(f"cannot use the thread store {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise DataFormatError(f"{self.path} is not a thread store: {exc}") from None

    def _open_reading(self) -> sqlite3.Connection:
        """A connection that reads the store. SQLite reads a store in write-ahead-log mode through
        a shared-memory file (-shm) beside it, and in a folder this user cannot write, with none
        there, the open failed ("unable to open database file"). Then (and on a read-only disk,
        where nobody can write it) it is read as the unchanging file it is, unless a log (-wal)
        holds writes not yet in it; in a folder its owner writes, the store is read as it changes."""
        def connect(uri: str) -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)

        uri = f"file:{self.path.resolve()}?mode=ro"
        if _read_only_disk(self.path):
            return connect(self._unchanging(uri))
        conn = connect(uri)
        try:
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if _may_write(self.path.parent):
                raise
            return connect(self._unchanging(uri))
        except sqlite3.DatabaseError:  # no database at all: said as "not a thread store" where the tables are read
            return conn

    def _unchanging(self, uri: str) -> str:
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ConfigError(f"the thread store {self.path} is in a folder this user cannot write, beside a "
                              f"write-ahead log ({wal.name}) holding writes not yet in it: open it once where "
                              "it can be written (any qa cqa command), which folds the log in")
        return uri + "&immutable=1"

    def _refuse_foreign(self) -> None:
        """Refuse another program's database (a slip of --store) before anything is written to it:
        creating the schema would add five tables to it and switch it to write-ahead logging under
        its owner's feet. An empty database is a store still to be created."""
        tables = {str(name) for (name,) in self._conn.execute("SELECT DISTINCT tbl_name FROM sqlite_master")
                  if not str(name).startswith("sqlite_")}  # SQLite's own (sqlite_sequence, sqlite_stat1)
        why = ""
        if tables and "threads" not in tables:
            other = sorted(tables - _SCHEMA_NAMES) or sorted(tables)
            why = "it holds other tables: " + ", ".join(other[:5]) + (f" and {len(other) - 5} more"
                                                                      if len(other) > 5 else "")
        elif tables:  # another program's "threads" is not ours either
            have = {str(row[1]) for row in self._conn.execute("PRAGMA table_info(threads)")}
            missing = [c for c in _thread_columns() if c not in have]
            why = f"its threads table has no column {', '.join(missing)}" if missing else ""
        if why:
            self._conn.close()
            raise DataFormatError(f"{self.path} is not a thread store ({why})")

    def _schema_current(self) -> bool:
        """Whether the file already has every table and index of the schema and the key high-water
        mark: then opening it writes nothing, so a process can open it (to answer) while another
        imports into it."""
        names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        if not _SCHEMA_NAMES <= names:
            return False
        return len(self._conn.execute("SELECT 1 FROM meta WHERE name IN ('max_key', 'store_id')").fetchall()) == 2

    def writable_now(self) -> bool:
        """Whether a write would start at once (no other process is writing); writes nothing."""
        if self.read_only:
            return False
        if self._depth:  # this connection is the writer
            return True
        try:
            with self.no_wait():
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("ROLLBACK")
        except StoreBusy:
            return False
        return True

    @contextlib.contextmanager
    def no_wait(self, ms: int = 0) -> Iterator[None]:
        """Writes inside give up with `StoreBusy` after `ms` while another process writes (an import
        commits in one go), instead of waiting for it: at once for caches a question fills in
        passing; `USER_WAIT_MS` for a user's own write, which another server's or command's write of
        a few milliseconds had refused outright."""
        with self._lock:
            waited, self._wait_ms = self._wait_ms, ms
            self._conn.execute(f"PRAGMA busy_timeout={int(ms)}")
            try:
                yield
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise self._busy() from None
                raise
            finally:
                self._wait_ms = waited
                self._conn.execute(f"PRAGMA busy_timeout={waited}")

    def _busy(self) -> StoreBusy:
        """The refusal of a write that found another process writing. An import holds the write lock
        for as long as it runs, so a write that already waited the busy timeout out is told to come
        back after it, not in a few seconds."""
        then = "try again in a few seconds" if self._wait_ms < BUSY_TIMEOUT_MS else "try again when it finishes"
        return StoreBusy(f"the thread store {self.path.name} is being written by another process (an import?); {then}")

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside commit together or not at all; nesting joins the outer block."""
        self._writable()
        with self._lock:
            if self._depth == 0:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if _is_busy(exc):
                        raise self._busy() from None
                    self._raise_if_full(exc)
                    raise
            self._depth += 1
            try:
                yield self._conn
            except BaseException as exc:
                self._depth -= 1
                if self._depth == 0:
                    if self._conn.in_transaction:  # SQLite ends it itself on a full disk
                        self._conn.execute("ROLLBACK")  # the temporary table's creation with it
                    self._naming = False
                    self._raise_if_full(exc)
                raise
            self._depth -= 1
            if self._depth == 0:
                try:
                    if self._naming:  # see `first_naming`
                        self._conn.execute("DROP TABLE temp.named_once")
                        self._naming = False
                    self._bump()
                    self._conn.execute("COMMIT")
                except BaseException as exc:  # a failed commit (busy, disk full) must not leave the transaction open
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    self._raise_if_full(exc)
                    raise

    def _raise_if_full(self, exc: BaseException) -> None:
        """SQLite's "database or disk is full" as the `OSError` every other full disk is (one error
        line, HTTP 507), naming the store: it was a traceback, the store itself intact. Likewise a
        store that became read-only since it was opened (a disk remounted, its mode changed)."""
        full = disk_full(exc, self.path)
        if full is not None:
            raise full from exc
        if write_refused(exc):
            raise ConfigError(f"the thread store {self.path} cannot be written: {exc} (its file, its folder "
                              "or its disk is read-only for this user)") from exc

    def _bump(self) -> None:
        """Each committed write changes the generation, so indexes built before it know they are stale."""
        self._conn.execute(
            "INSERT INTO meta(name, value) VALUES ('generation', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (uuid.uuid4().hex,))

    def not_writable(self) -> ConfigError:
        refused = ConfigError(f"the thread store {self.path} is read-only for this user (its file or its folder "
                              "cannot be written): it answers, but adding, accepting and deleting need write access")
        refused.public = "the thread store is read-only on this server: it answers, but takes no additions, " \
                         "acceptances or deletions"
        return refused

    def _writable(self) -> None:
        if self.unwritable:
            raise self.not_writable()
        if self.read_only:
            raise InputError(f"the thread store {self.path} is open read-only")

    def _rows(self, sql: str, args: Iterable[object] = ()) -> list[tuple]:
        with self._lock, unreadable_as(f"the thread store {self.path}"):
            return self._conn.execute(sql, tuple(args)).fetchall()

    # ------------------------------------------------------------------ meta
    def get_meta(self, name: str, default: str = "") -> str:
        rows = self._rows("SELECT value FROM meta WHERE name = ?", (name,))
        return rows[0][0] if rows else default

    def set_meta(self, name: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO meta(name, value) VALUES (?, ?) "
                      "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))

    def claim_source(self, source: str, kind: SourceKind) -> None:
        """Check, inside an import's transaction, that `source` is new or was filled by this kind of
        import, and record the kind. A store from before kinds were recorded is told by the source's
        name or its threads (`_kind_before_records`)."""
        if source in USER_SOURCES:
            raise InputError(f"the source {source!r} is where {SourceKind.USER.described} are kept; "
                             "import the file under a --source of its own")
        key = f"source-kind:{source}"
        recorded = self.get_meta(key)
        held = SourceKind(recorded) if recorded in SourceKind._value2member_map_ else None
        if held is None and self._rows("SELECT 1 FROM threads WHERE source = ? LIMIT 1", (source,)):
            held = self._kind_before_records(source)
        if held is not None and held != kind:
            raise InputError(f"the source {source!r} holds {held.described}: {kind.described} would update "
                             "(with --prune, delete) them as if they were the file's own; import it under another "
                             "--source")
        self.set_meta(key, kind.value)

    def _kind_before_records(self, source: str) -> SourceKind:
        """The kind of a source filled before kinds were recorded: by the FAQ file it came from, its
        name, or else what its threads look like (a dump's posts have numeric ids and voted answers,
        SemEval's threads ids such as Q268_R4; an FAQ's are its own or its questions' digests)."""
        if self.get_meta(f"faq-file:{source}"):
            return SourceKind.FAQ
        for prefix, kind in (("stackexchange:", SourceKind.STACKEXCHANGE), ("faq:", SourceKind.FAQ),
                             ("seed:", SourceKind.FAQ), ("semeval", SourceKind.SEMEVAL)):
            if source.startswith(prefix):
                return kind
        ids = [str(r[0]) for r in self._rows("SELECT ext_id FROM threads WHERE source = ? LIMIT 1000", (source,))]
        if ids and all(_SEMEVAL_ID.fullmatch(i) for i in ids):
            return SourceKind.SEMEVAL
        voted = self._rows("SELECT 1 FROM answers a JOIN threads t ON t.key = a.thread_key "
                           "WHERE t.source = ? AND a.votes IS NOT NULL LIMIT 1", (source,))
        if ids and voted and all(i.isdigit() for i in ids):
            return SourceKind.STACKEXCHANGE
        return SourceKind.FAQ

    @property
    def generation(self) -> str:
        return self.get_meta("generation")

    def _behind_its_index(self) -> None:
        """A store older than the index beside it (a backup restored over it): its next threads take
        keys the index holds for other questions (a backup keeps the key high-water mark it had),
        and the kettle question was answered with the router's answer at 0.98. The store takes a
        new id, so every index file of the old one is rebuilt rather than trusted."""
        try:
            meta = json_file(index_folder(self.path) / INDEX_META)
            indexed = int(meta.get("max_key", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            return
        mine = int(self.get_meta("max_key") or 0)
        if meta.get("store") == self.get_meta("store_id") and indexed > mine:
            log.warning("the thread store %s is older than the index beside it (a backup restored?): the index "
                        "is rebuilt", self.path)
            self.set_meta("store_id", uuid.uuid4().hex)

    # ------------------------------------------------------------------ writes (inside a transaction)
    def first_naming(self, name: str) -> bool:
        """True the first time `name` comes up within the current transaction (an import's): a file
        that gives one id to two posts is caught. Kept in a temporary table that goes with the
        transaction, so memory stays flat however many posts an import reads."""
        with self.transaction() as c:
            if not self._naming:
                c.execute("CREATE TEMP TABLE named_once (name TEXT PRIMARY KEY)")
                self._naming = True
            return c.execute("INSERT OR IGNORE INTO named_once VALUES (?)", (name,)).rowcount == 1

    def put_thread(self, source: str, ext_id: str, title: str, body: str = "", *, tags: Sequence[str] = (),
                   created: str = "", url: str = "", accepted_ext: str | None = None,
                   author: str = "", update: bool = True) -> tuple[int, Put]:
        """Insert a thread, or bring a stored one with this (source, ext_id) up to date (a newer dump,
        an edited FAQ; not when `update` is False); returns (key, what happened). A thread whose
        question text changed gets a new key (its answers and links move with it), so indexes see
        it as a new thread."""
        uid = make_uid(source, ext_id)
        tags_json = json.dumps(list(tags), ensure_ascii=False)
        with self.transaction() as c:
            row = c.execute("SELECT key, title, body, tags, created, url, accepted_ext, author, source, ext_id "
                            "FROM threads WHERE uid = ?", (uid,)).fetchone()
            if row is not None and (row[8], row[9]) != (source, ext_id):  # "a" + "b:c" against "a:b" + "c"
                raise InputError(f"the thread id {uid!r} is taken by the source {row[8]!r} (its id {row[9]!r}): "
                                 f"give the source {source!r} another name")
            row = row[:8] if row is not None else None
            if row is None:
                key = self._next_key(c)
                c.execute(
                    "INSERT INTO threads (key, uid, source, ext_id, title, body, tags, created, url, accepted_ext, "
                    "author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, uid, source, ext_id, title, body, tags_json, created, url, accepted_ext, author))
                return key, Put.ADDED
            key = int(row[0])
            if not update:
                return key, Put.SAME
            meta = (tags_json, created or row[4], url or row[5], accepted_ext, author or row[7])
            if (title, body) != (row[1], row[2]):
                return self._rekey(c, key, uid, title, body, meta), Put.UPDATED
            if meta != tuple(row[3:]):
                c.execute("UPDATE threads SET tags = ?, created = ?, url = ?, accepted_ext = ?, author = ? "
                          "WHERE key = ?", (*meta, key))
                return key, Put.UPDATED
            return key, Put.SAME

    @staticmethod
    def _next_key(c: sqlite3.Connection) -> int:
        """A key no thread ever had: SQLite would give a deleted highest key to the next thread, and an
        index that saw the deleted one would take the new thread for it."""
        row = c.execute("SELECT MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'max_key'), 0), "
                        "COALESCE((SELECT MAX(key) FROM threads), 0))").fetchone()
        key = int(row[0]) + 1
        c.execute("INSERT INTO meta(name, value) VALUES ('max_key', ?) "
                  "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (str(key),))
        return key

    def _rekey(self, c: sqlite3.Connection, key: int, uid: str, title: str, body: str, meta: tuple) -> int:
        """The thread under a new key with a new question text (no vector yet), its answers and links moved."""
        new = self._next_key(c)
        c.execute("INSERT INTO threads (key, uid, source, ext_id, title, body, tags, created, url, accepted_ext, "
                  "author) SELECT ?, ?, source, ext_id, ?, ?, ?, ?, ?, ?, ? FROM threads WHERE key = ?",
                  (new, f"{uid}\x00moving", title, body, *meta, key))
        c.execute("UPDATE answers SET thread_key = ? WHERE thread_key = ?", (new, key))
        c.execute("UPDATE OR IGNORE links SET thread_key = ? WHERE thread_key = ?", (new, key))
        c.execute("UPDATE OR IGNORE links SET target_key = ? WHERE target_key = ?", (new, key))
        c.execute("DELETE FROM threads WHERE key = ?", (key,))
        c.execute("UPDATE threads SET uid = ? WHERE key = ?", (uid, new))
        return new

    def put_answer(self, thread_key: int, ext_id: str, text: str, *, votes: int | None = None,
                   accepted: bool = False, created: str = "", author: str = "",
                   update: bool = True) -> tuple[int, Put]:
        """Insert an answer, or bring a stored one with this id up to date (text, votes; not when
        `update` is False); returns (key, what happened). `accepted` only applies to a new answer
        (`set_accepted` moves it)."""
        with self.transaction() as c:
            row = c.execute("SELECT key, text, votes, author FROM answers WHERE thread_key = ? AND ext_id = ?",
                            (thread_key, ext_id)).fetchone()
            if row is None:
                cur = c.execute(
                    "INSERT INTO answers (thread_key, ext_id, text, votes, accepted, created, author) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", (thread_key, ext_id, text, votes, int(accepted), created, author))
                return int(cur.lastrowid or 0), Put.ADDED
            key = int(row[0])
            if not update:
                return key, Put.SAME
            if text != row[1]:
                c.execute("UPDATE answers SET text = ?, vector = NULL WHERE key = ?", (text, key))
            if (votes, author or row[3]) != (row[2], row[3]):
                c.execute("UPDATE answers SET votes = ?, author = ? WHERE key = ?", (votes, author or row[3], key))
            return key, (Put.SAME if (text, votes, author or row[3]) == tuple(row[1:]) else Put.UPDATED)

    def move_answer_here(self, source: str, ext_id: str, thread_key: int) -> int | None:
        """Where a site's answer ids are unique across it (StackExchange), an answer a newer dump
        gives to another question (the two were merged) is moved there, not kept twice; returns the
        key of the thread it left (None: it was nowhere else)."""
        with self.transaction() as c:
            row = c.execute("SELECT a.thread_key FROM answers a JOIN threads t ON t.key = a.thread_key "
                            "WHERE a.ext_id = ? AND t.source = ? AND a.thread_key != ? LIMIT 1",
                            (ext_id, source, thread_key)).fetchone()
            if row is None:
                return None
            old = int(row[0])
            if c.execute("SELECT 1 FROM answers WHERE thread_key = ? AND ext_id = ?", (thread_key, ext_id)).fetchone():
                c.execute("DELETE FROM answers WHERE thread_key = ? AND ext_id = ?", (old, ext_id))
            else:  # its acceptance is the new thread's to say (mark_accepted)
                c.execute("UPDATE answers SET thread_key = ?, accepted = 0 WHERE thread_key = ? AND ext_id = ?",
                          (thread_key, old, ext_id))
            return old

    def drop_digest_answers(self, thread_key: int, keep: Sequence[str]) -> int:
        """Delete the thread's answers whose ids are text digests (an FAQ import's: 16 hex digits)
        other than `keep`: answers an edited FAQ no longer gives. Answers added any other way stay.
        Returns how many went."""
        marks = ",".join("?" * len(keep))
        with self.transaction() as c:
            cur = c.execute("DELETE FROM answers WHERE thread_key = ? AND length(ext_id) = 16 "
                            f"AND ext_id NOT GLOB '*[^0-9a-f]*' AND ext_id NOT IN ({marks})", (thread_key, *keep))
            return max(cur.rowcount, 0)

    def set_accepted(self, thread_key: int, ext_id: str | None) -> None:
        """Make `ext_id` the thread's one accepted answer (None: no accepted answer)."""
        with self.transaction() as c:
            c.execute("UPDATE answers SET accepted = (ext_id IS ?) WHERE thread_key = ? AND accepted != (ext_id IS ?)",
                      (ext_id, thread_key, ext_id))

    def accepted_ext_of(self, source: str, ext_id: str) -> str | None:
        """The answer id a stored thread's source names as accepted (None: none, or no such thread)."""
        rows = self._rows("SELECT accepted_ext FROM threads WHERE uid = ? AND source = ?",
                          (make_uid(source, ext_id), source))
        return rows[0][0] if rows else None

    def has_accepted(self, thread_key: int) -> bool:
        return bool(self._rows("SELECT 1 FROM answers WHERE thread_key = ? AND accepted LIMIT 1", (thread_key,)))

    def thread_key(self, source: str, ext_id: str) -> int | None:
        # by the unique uid, and the source: "a:b" + "c" is not "a" + "b:c"
        rows = self._rows("SELECT key FROM threads WHERE uid = ? AND source = ?", (make_uid(source, ext_id), source))
        return int(rows[0][0]) if rows else None

    def put_pending_answer(self, source: str, parent_ext: str, ext_id: str, text: str, *, votes: int | None,
                           created: str = "", author: str = "") -> None:
        """An answer whose question has not been read yet (resolved by `resolve_pending`)."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO pending_answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (source, parent_ext, ext_id, text, votes, created, author))

    def resolve_pending(self, source: str) -> tuple[list[Put], set[int], int]:
        """Attach pending answers whose question arrived later, as answers read in order are: one a
        newer dump gives to another question is moved (merged questions are where an answer comes
        before its question), and one stored already is brought up to date. Drops those whose
        question never came. Returns what happened to each, the threads one left and how many were
        dropped."""
        puts: list[Put] = []
        left: set[int] = set()
        with self.transaction() as c:
            rows = c.execute(
                "SELECT t.key, t.accepted_ext, p.ext_id, p.text, p.votes, p.created, p.author FROM pending_answers p "
                "JOIN threads t ON t.uid = p.source || ':' || p.parent_ext "
                "AND t.source = p.source "  # "a:b" + "c" is not "a" + "b:c"
                "WHERE p.source = ? ORDER BY p.rowid", (source,)).fetchall()
            for key, accepted_ext, ext_id, text, votes, created, author in rows:
                old = self.move_answer_here(source, ext_id, key)
                if old is not None:
                    left.update((old, key))
                _, put = self.put_answer(key, ext_id, text, votes=votes, created=created, author=author,
                                         accepted=accepted_ext == ext_id)
                puts.append(put)
            dropped = c.execute("DELETE FROM pending_answers WHERE source = ?", (source,)).rowcount - len(rows)
        return puts, left, max(0, dropped)

    def mark_accepted(self, source: str, keys: Iterable[int]) -> None:
        """Flag the answers their thread names as accepted (`accepted_ext`), and only those, in the
        threads `keys` (those an import added, or whose acceptance the dump moved or withdrew): a
        re-import of the same dump keeps what users accepted since."""
        sql = ("UPDATE answers SET accepted = NOT accepted WHERE key IN (SELECT a.key FROM answers a "
               "JOIN threads t ON t.key = a.thread_key WHERE t.source = ? "
               "AND a.accepted != (t.accepted_ext IS NOT NULL AND t.accepted_ext = a.ext_id){})")
        with self.transaction() as c:
            todo = sorted(set(keys))
            for i in range(0, len(todo), 500):
                part = todo[i : i + 500]
                c.execute(sql.format(f" AND t.key IN ({', '.join('?' * len(part))})"), (source, *part))

    def link(self, thread_key: int, target_key: int, kind: str = "duplicate") -> bool:
        """Record that one thread duplicates (or links to) another; returns whether it was new."""
        with self.transaction() as c:
            cur = c.execute("INSERT OR IGNORE INTO links VALUES (?, ?, ?)", (thread_key, target_key, kind))
            return bool(cur.rowcount)

    # ------------------------------------------------------------------ the public API for new content
    def add_question(self, title: str, body: str = "", *, source: str = "user", question_id: str | None = None,
                     tags: Sequence[str] = (), url: str = "") -> str:
        """File a new question (no answer yet); returns its thread id (`source:id`). Without an id,
        the id is the question's text (`content_id`): the same question sent again (a client retrying
        after a timeout, a double click) is the thread filed the first time, not a second one."""
        title, body = _checked_question(title, body)
        tags = check_tags(tags)
        ext = question_id or content_id(title, body)
        _, put = self.put_thread(source, ext, title, body, tags=tags, created=_now(), url=url, update=False)
        if put is not Put.ADDED and question_id is not None:
            raise InputError(f"the thread {make_uid(source, ext)} exists already")
        return make_uid(source, ext)

    @staticmethod
    def question_uid(title: str, body: str = "", *, source: str = "user") -> str:
        """The thread id `add_question` gives this question without an id of its own (whether it is
        stored already is `has`)."""
        return make_uid(source, content_id(*_checked_question(title, body)))

    def has(self, thread_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM threads WHERE uid = ?", (thread_id,)))

    def add_answer(self, thread_id: str, text: str, *, accepted: bool = False, votes: int | None = None,
                   answer_id: str | None = None, author: str = "") -> str:
        """Add an answer to a stored thread; `accepted=True` also un-accepts its earlier accepted answer.
        Returns the answer id. Without an id, the id is the answer's text: the same answer sent again
        is the one stored, not a second copy, and keeps the acceptance it has (a client retrying after
        a timeout must not undo an acceptance made since: `accept_answer` changes it); so is an answer
        sent again with its id. Another text under a stored answer's id is refused."""
        text = check_words(check_text(text, "answer", MAX_TEXT_CHARS, stored=True), "answer")  # not "..." or "\u200b"
        votes = check_votes(votes)
        key = self.key_of(thread_id)
        # 12 digits: an FAQ import removes the answers with 16-digit ids its file no longer gives
        # (`drop_digest_answers`), never one added this way
        ext = answer_id or content_id(text)[:12]
        with self.transaction() as c:
            row = c.execute("SELECT text FROM answers WHERE thread_key = ? AND ext_id = ?", (key, ext)).fetchone()
            if row is not None:
                if content_id(row[0]) != content_id(text):
                    raise InputError(f"the thread {thread_id} has an answer {ext!r} already")
                return ext
            if accepted:
                c.execute("UPDATE answers SET accepted = 0 WHERE thread_key = ?", (key,))
            self.put_answer(key, ext, text, votes=votes, accepted=accepted, created=_now(), author=author,
                            update=False)
        return ext

    def accept_answer(self, thread_id: str, answer_id: str) -> None:
        """Mark one answer of a thread as its accepted answer (and no other)."""
        key = self.key_of(thread_id)
        with self.transaction() as c:
            if not c.execute("SELECT 1 FROM answers WHERE thread_key = ? AND ext_id = ?", (key, answer_id)).fetchone():
                raise NotFoundError(f"the thread {thread_id} has no answer {answer_id!r}")
            c.execute("UPDATE answers SET accepted = (ext_id = ?) WHERE thread_key = ?", (answer_id, key))

    def drop_threads_except(self, source: str, keep: set[int]) -> tuple[int, int]:
        """Delete the source's threads whose keys are not in `keep` (with their answers and links),
        except those that hold an answer users added (`add_answer`: an id not an FAQ's 16-digit
        digest): of them only the file's answers go, and what users wrote stays to be found (a
        correction a user added and accepted went silently with the question). Returns (threads
        deleted, threads kept for their users' answers)."""
        gone = [int(k) for (k,) in self._rows("SELECT key FROM threads WHERE source = ?", (source,))
                if int(k) not in keep]
        users = {int(k) for (k,) in self._rows(
            "SELECT DISTINCT a.thread_key FROM answers a JOIN threads t ON t.key = a.thread_key WHERE t.source = ? "
            "AND NOT (length(a.ext_id) = 16 AND a.ext_id NOT GLOB '*[^0-9a-f]*')", (source,))}
        with self.transaction() as c:
            c.executemany("DELETE FROM threads WHERE key = ?", [(k,) for k in gone if k not in users])
            for k in (k for k in gone if k in users):
                self.drop_digest_answers(k, [])
        return len([k for k in gone if k not in users]), len([k for k in gone if k in users])

    def source_holding(self, ext_id: str, title: str, *, prefix: str, besides: str) -> str | None:
        """Another source (named `prefix...`) holding a thread of this id and title, if any."""
        rows = self._rows("SELECT source FROM threads WHERE ext_id = ? AND title = ? AND source LIKE ? "
                          "AND source != ? LIMIT 1", (ext_id, title, prefix.replace("%", "") + "%", besides))
        return str(rows[0][0]) if rows else None

    def drop_posts_except(self, source: str, listed: set[str]) -> tuple[int, int, int]:
        """A StackExchange source's questions and answers whose post ids are not in `listed` (the
        newer dump's), deleted; answers without a post id (added by users) stay, and so does a
        question the dump no longer gives that holds one (without the dump's answers): an answer
        a user added went with it. Returns (threads, answers) removed and threads kept for their
        users' answers."""
        def a_post(ext: str) -> bool:
            return ext.isdigit() and len(ext) < 12  # 12: a user's answer id is a 16-digit digest

        rows = self._rows("SELECT a.key, a.thread_key, a.ext_id FROM answers a JOIN threads t ON t.key = a.thread_key "
                          "WHERE t.source = ?", (source,))
        users = {int(thread) for _, thread, ext in rows if not a_post(ext)}
        unlisted = [int(k) for k, ext in self._rows("SELECT key, ext_id FROM threads WHERE source = ?", (source,))
                    if ext not in listed]
        gone = [k for k in unlisted if k not in users]
        dropped = set(gone)  # their answers go with them
        answers = [int(k) for k, thread, ext in rows
                   if int(thread) not in dropped and a_post(ext) and ext not in listed]
        with self.transaction() as c:
            c.executemany("DELETE FROM answers WHERE key = ?", [(k,) for k in answers])
            c.executemany("DELETE FROM threads WHERE key = ?", [(k,) for k in gone])
        return len(gone), len(answers), len(unlisted) - len(gone)  # `import_file` scrubs once committed

    def delete_thread(self, thread_id: str) -> Thread:
        """Delete a thread with its answers and links; returns what was deleted. A thread of an
        imported file comes back when the file is imported again (the file says what it holds)."""
        with self.transaction() as c:
            thread = self.thread(thread_id)
            c.execute("DELETE FROM threads WHERE key = ?", (thread.key,))
            if not self.get_meta(SEED_META):  # emptied by hand, it is no new store for the seed to fill
                self.set_meta(SEED_META, "skip")
        self.scrub()
        return thread

    def scrub(self) -> None:
        """After a deletion: the write-ahead log, which holds the deleted rows' pages until a
        checkpoint (for as long as a server keeps the store open), is copied back and emptied.
        Best effort: a reader in the middle of a query delays it to the next deletion or close."""
        with self._lock, contextlib.suppress(sqlite3.DatabaseError):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def delete_answer(self, thread_id: str, answer_id: str) -> StoredAnswer:
        """Delete one answer of a thread (a wrong one, filed by mistake); returns it. The thread then
        shows its next best answer, or none."""
        with self.transaction() as c:
            thread = self.thread(thread_id)
            gone = next((a for a in thread.answers if a.id == answer_id), None)
            if gone is None:
                raise NotFoundError(f"the thread {thread_id} has no answer {answer_id!r}")
            c.execute("DELETE FROM answers WHERE key = ?", (gone.key,))
        self.scrub()
        return gone

    # ------------------------------------------------------------------ vectors
    def unembedded(self, limit: int = 256, after: int = 0) -> list[tuple[int, str]]:
        """(key, text) of threads without a vector yet, in key order."""
        rows = self._rows("SELECT key, title, body FROM threads WHERE vector IS NULL AND key > ? ORDER BY key LIMIT ?",
                          (after, limit))
        return [(int(k), thread_text(t, b)) for k, t, b in rows]

    def count_unembedded(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM threads WHERE vector IS NULL")[0][0])

    def set_vectors(self, keys: Sequence[int], vectors: np.ndarray) -> None:
        v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        with self.transaction() as c:
            c.executemany("UPDATE threads SET vector = ? WHERE key = ?",
                          [(v[i].tobytes(), int(k)) for i, k in enumerate(keys)])

    def iter_vectors(self, page: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(keys, vectors) pages of every embedded thread, in key order."""
        last = -1
        while True:
            rows = self._rows("SELECT key, vector FROM threads WHERE vector IS NOT NULL AND key > ? "
                              "ORDER BY key LIMIT ?", (last, page))
            if not rows:
                return
            keys = np.array([r[0] for r in rows], dtype=np.int64)
            vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            yield keys, vecs
            last = int(keys[-1])

    def embedded_keys(self) -> np.ndarray:
        return np.array([r[0] for r in self._rows("SELECT key FROM threads WHERE vector IS NOT NULL")],
                        dtype=np.int64)

    def _stored_vectors(self, table: str, keys: Sequence[int]) -> dict[int, np.ndarray]:
        """The vectors stored for these keys of `threads` or `answers` (keys without one are left out)."""
        assert table in ("threads", "answers")
        found: dict[int, np.ndarray] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            part = keys[i: i + 500]
            for k, v in self._rows(f"SELECT key, vector FROM {table} WHERE vector IS NOT NULL AND key IN "
                                   f"({','.join('?' * len(part))})", part):
                found[int(k)] = np.frombuffer(v, dtype=np.float32)
        return found

    def vectors_of(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(keys, vectors) of those of the given threads that have a vector, in key order."""
        found = self._stored_vectors("threads", keys)
        order = sorted(found)
        vecs = np.stack([found[k] for k in order]) if order else np.zeros((0, 0), dtype=np.float32)
        return np.array(order, dtype=np.int64), vecs

    def clear_vectors(self) -> None:
        """Forget every vector (after the encoder changed)."""
        with self.transaction() as c:
            c.execute("UPDATE threads SET vector = NULL")
            c.execute("UPDATE answers SET vector = NULL")
            c.execute("DELETE FROM meta WHERE name = 'encoder'")

    def answer_vectors(self, keys: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors of answers (answers are embedded lazily, when their thread is first matched)."""
        return self._stored_vectors("answers", keys)

    def set_answer_vectors(self, keys: Sequence[int], vectors: np.ndarray, *, wait: bool = True) -> bool:
        """Store answers' vectors; returns whether they were stored. `wait=False`: give up at once
        when another process is writing (an import): the vectors are a cache, and a question must
        not wait for an import to finish."""
        v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        rows = [(v[i].tobytes(), int(k)) for i, k in enumerate(keys)]
        try:
            with contextlib.nullcontext() if wait else self.no_wait(), self.transaction() as c:
                c.executemany("UPDATE answers SET vector = ? WHERE key = ?", rows)
        except StoreBusy:
            return False
        return True

    # ------------------------------------------------------------------ reads
    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM threads")[0][0])

    def keys(self) -> np.ndarray:
        return np.array([r[0] for r in self._rows("SELECT key FROM threads")], dtype=np.int64)

    def has_bodiless(self) -> bool:
        """Whether any thread is a question alone (an FAQ entry, a typed question), not a post."""
        return bool(self._rows("SELECT 1 FROM threads WHERE body = '' LIMIT 1"))

    def count_answers(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM answers")[0][0])

    def sources(self) -> dict[str, int]:
        rows = self._rows("SELECT source, COUNT(*) FROM threads GROUP BY source ORDER BY source")
        return {s: int(n) for s, n in rows}

    def key_of(self, thread_id: str) -> int:
        rows = self._rows("SELECT key FROM threads WHERE uid = ?", (thread_id,))
        if not rows:
            raise NotFoundError(f"no thread {thread_id!r} in the community-QA store")  # no server path to a client
        return int(rows[0][0])

    def texts(self, keys: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            part = keys[i: i + 500]
            marks = ",".join("?" * len(part))
            for k, t, b in self._rows(f"SELECT key, title, body FROM threads WHERE key IN ({marks})", part):
                out[int(k)] = thread_text(t, b)
        return out

    def iter_texts(self, page: int = 2000) -> Iterator[tuple[int, str]]:
        """(key, title + body) of every thread in key order, read in pages."""
        last = -1
        while True:
            rows = self._rows("SELECT key, title, body FROM threads WHERE key > ? ORDER BY key LIMIT ?", (last, page))
            if not rows:
                return
            for k, t, b in rows:
                yield int(k), thread_text(t, b)
            last = int(rows[-1][0])

    def iter_full_texts(self, tokenize: Any, *, keys: Sequence[int] | None = None,
                        page: int = 500) -> Iterator[tuple[int, list[str]]]:
        """(key, tokens of the question and all its answers) per thread, in key order, read in pages."""
        if keys is not None:
            threads = self.get(keys)
            for k in sorted(threads):
                yield k, tokenize([full_text(threads[k])])[0]
            return
        last = -1
        while True:
            rows = self._rows("SELECT key FROM threads WHERE key > ? ORDER BY key LIMIT ?", (last, page))
            if not rows:
                return
            threads = self.get([r[0] for r in rows])
            texts = [full_text(threads[k]) for k in sorted(threads)]
            for k, toks in zip(sorted(threads), tokenize(texts), strict=True):
                yield k, toks
            last = int(rows[-1][0])

    def get(self, keys: Sequence[int], *, answers: bool = True) -> dict[int, Thread]:
        """Threads by key, with their answers in the order they were stored."""
        out: dict[int, Thread] = {}
        keys = list(dict.fromkeys(int(k) for k in keys))
        for i in range(0, len(keys), 500):
            part = keys[i: i + 500]
            marks = ",".join("?" * len(part))
            for row in self._rows("SELECT key, uid, source, ext_id, title, body, tags, created, url, author FROM "
                                  f"threads WHERE key IN ({marks})", part):
                k, uid, source, ext, title, body, tags, created, url, author = row
                out[int(k)] = Thread(int(k), uid, source, ext, title, body, json.loads(tags or "[]"), created, url,
                                     author)
            if answers and out:
                for row in self._rows("SELECT key, thread_key, ext_id, text, votes, accepted, created, author FROM "
                                      f"answers WHERE thread_key IN ({marks}) ORDER BY thread_key, key", part):
                    ak, tk, ext, text, votes, acc, created, author = row
                    if int(tk) in out:
                        # a vote count an earlier version stored as text ("many") is no vote count
                        votes = votes if isinstance(votes, int) else None
                        out[int(tk)].answers.append(StoredAnswer(int(ak), ext, text, votes, bool(acc), created, author))
                for tk, target in self._rows(f"SELECT thread_key, target_key FROM links WHERE thread_key IN ({marks}) "
                                             "AND kind = 'duplicate'", part):
                    if int(tk) in out:
                        out[int(tk)].duplicate_of.append(int(target))
        return out

    def thread(self, thread_id: str) -> Thread:
        key = self.key_of(thread_id)
        return self.get([key])[key]

    def newest(self, limit: int, *, source: str | None = None, offset: int = 0) -> list[Thread]:
        """Threads (with their answers), the latest stored first; of one source where named."""
        where, args = ("WHERE source = ? ", [source]) if source is not None else ("", [])
        rows = self._rows(f"SELECT key FROM threads {where}ORDER BY key DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        found = self.get([int(r[0]) for r in rows])
        return [found[int(r[0])] for r in rows if int(r[0]) in found]

    def integrity_ok(self) -> bool:
        return self._rows("PRAGMA integrity_check")[0][0] == "ok"

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ThreadStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
