"""Passage storage: text, title, source and metadata behind the integer keys the indexes use.

SQLite is the embedded default: one file, transactions, no server, fast enough for millions
of short passages. `DocStore` is the interface the retrievers depend on, so a server store
(OpenSearch, Qdrant, Postgres) can stand in when a collection outgrows one machine.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from qa.core.errors import DataFormatError, InputError, unreadable_as
from retrieval.passage import Passage


class DocStore(Protocol):
    """What retrieval needs from a passage store."""

    def add(self, passages: Sequence[Passage]) -> list[int]: ...

    def get(self, keys: Sequence[int]) -> dict[int, Passage]: ...

    def keys_for(self, ids: Sequence[str]) -> dict[str, int]: ...

    def delete(self, ids: Sequence[str]) -> list[int]: ...

    def count(self) -> int: ...

    def iter_all(self) -> Iterator[tuple[int, Passage]]: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    key      INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    title    TEXT NOT NULL DEFAULT '',
    text     TEXT NOT NULL,
    source   TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS key_floor (next INTEGER NOT NULL);
"""


class SQLiteDocStore:
    """A `DocStore` in one SQLite file. Keys are stable and never reused: a plain rowid would hand
    the newest passage's key to the next one added after it is deleted, and an HNSW index, which
    can only tombstone a deleted key, must refuse it. `key_floor` keeps the high-water mark (a
    table of its own, so stores written before it get one on their first add)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            if not self.path.exists():
                raise DataFormatError(f"document store not found: {self.path}")
            # immutable=1: no lock or journal files, so a store in a read-only folder opens.
            uri = f"file:{self.path.resolve()}?mode=ro&immutable=1"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=DELETE")
            self._conn.execute("PRAGMA synchronous=FULL")
            # a deleted document's text is overwritten, not left in free pages until a VACUUM
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.executescript(_SCHEMA)
            # a store written before the mark existed starts it above its highest key
            self._conn.execute("INSERT INTO key_floor (next) SELECT COALESCE(MAX(key), 0) + 1 FROM passages "
                               "WHERE NOT EXISTS (SELECT 1 FROM key_floor)")
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._conn.execute("SELECT 1 FROM passages LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise DataFormatError(f"{self.path} is not a passage store: {exc}") from exc

    # -- transactions -----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside the block commit together or not at all (nesting joins the outer one)."""
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0 and self._conn.in_transaction:  # SQLite ends it itself on a full disk
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                try:
                    self._conn.execute("COMMIT")
                except BaseException:  # a failed commit (disk full) must not leave the transaction open
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise

    def _writable(self) -> None:
        if self.read_only:
            raise InputError(f"the document store {self.path} is open read-only")

    # -- writes -----------------------------------------------------------------------------
    def add(self, passages: Sequence[Passage], *, min_key: int = 1) -> list[int]:
        """Insert passages; returns their new keys, `min_key` or above (the dense index's first free
        id: a store from before `key_floor` knows only its own keys, not the deleted ones an HNSW
        index keeps as tombstones). An id already stored is an `InputError`."""
        self._writable()
        keys: list[int] = []
        with self.transaction():
            floor = self._conn.execute("SELECT MAX(next) FROM key_floor").fetchone()[0] or 1
            top = self._conn.execute("SELECT MAX(key) FROM passages").fetchone()[0] or 0
            key = max(int(floor), int(top) + 1, int(min_key))
            for p in passages:
                try:
                    self._conn.execute(
                        "INSERT INTO passages (key, id, title, text, source, metadata) VALUES (?, ?, ?, ?, ?, ?)",
                        (key, p.id, p.title, p.text, p.source, json.dumps(p.metadata, ensure_ascii=False)),
                    )
                except sqlite3.IntegrityError as exc:
                    raise InputError(f"passage id {p.id!r} is already in the store") from exc
                keys.append(key)
                key += 1
            self._conn.execute("DELETE FROM key_floor")
            self._conn.execute("INSERT INTO key_floor (next) VALUES (?)", (key,))
        return keys

    def delete(self, ids: Sequence[str]) -> list[int]:
        """Delete passages by id; returns the keys removed (unknown ids are ignored)."""
        self._writable()
        with self.transaction():
            found = self.keys_for(ids)
            self._conn.executemany("DELETE FROM passages WHERE key = ?", [(k,) for k in found.values()])
            if found:  # the newest deleted stays above the mark: never handed out again
                self._conn.execute("UPDATE key_floor SET next = MAX(next, ?)", (max(found.values()) + 1,))
        return list(found.values())

    # -- reads ------------------------------------------------------------------------------
    def _rows(self, sql: str, args: Iterable[object] = ()) -> list[tuple]:
        with self._lock, unreadable_as(f"the document store {self.path}"):
            return self._conn.execute(sql, tuple(args)).fetchall()

    @staticmethod
    def _passage(row: tuple) -> tuple[int, Passage]:
        key, id_, title, text, source, meta = row
        return int(key), Passage(id=id_, text=text, title=title, source=source, metadata=json.loads(meta))

    def get(self, keys: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self._rows(
                f"SELECT key, id, title, text, source, metadata FROM passages WHERE key IN ({marks})", part
            ):
                k, p = self._passage(row)
                out[k] = p
        return out

    def keys_for(self, ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        ids = list(ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for id_, key in self._rows(f"SELECT id, key FROM passages WHERE id IN ({marks})", part):
                out[id_] = int(key)
        return out

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM passages")[0][0])

    def has_document(self, doc_id: str) -> bool:
        """Whether any passage of the document `doc_id` (ids `doc_id#0`, `doc_id#1`, ...) is stored."""
        prefix = doc_id + "#"
        return bool(self._rows("SELECT 1 FROM passages WHERE substr(id, 1, ?) = ? LIMIT 1", (len(prefix), prefix)))

    def sources(self) -> list[str]:
        """The distinct sources of the stored passages (files, `api:<id>` for documents added
        through the API)."""
        return [str(r[0]) for r in self._rows("SELECT DISTINCT source FROM passages")]

    def iter_all(self) -> Iterator[tuple[int, Passage]]:
        """Every passage in key order (read in pages, so memory stays flat)."""
        last = -1
        while True:
            rows = self._rows(
                "SELECT key, id, title, text, source, metadata FROM passages WHERE key > ? "
                "ORDER BY key LIMIT 1000",
                (last,),
            )
            if not rows:
                return
            for row in rows:
                yield self._passage(row)
            last = int(rows[-1][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteDocStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
