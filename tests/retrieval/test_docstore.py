from pathlib import Path

import pytest

from qa.core.errors import InputError
from retrieval.docstore import SQLiteDocStore
from retrieval.passage import Passage


def test_add_get_delete_roundtrip(tmp_path: Path) -> None:
    with SQLiteDocStore(tmp_path / "d.sqlite") as store:
        keys = store.add(
            [
                Passage("a#0", "Zürich — über", "Zü", "a.txt", {"lang": "de", "n": 1}),
                Passage("b#0", "text b", "B", "b.txt"),
            ]
        )
        assert store.count() == 2
        got = store.get(keys)
        assert got[keys[0]].text == "Zürich — über" and got[keys[0]].metadata == {"lang": "de", "n": 1}
        assert store.keys_for(["b#0", "zz"]) == {"b#0": keys[1]}
        assert store.delete(["a#0"]) == [keys[0]]
        assert [p.id for _, p in store.iter_all()] == ["b#0"]


def test_transaction_rolls_back_on_duplicate(tmp_path: Path) -> None:
    with SQLiteDocStore(tmp_path / "d.sqlite") as store:
        store.add([Passage("a#0", "x")])
        with pytest.raises(InputError):
            store.add([Passage("new#0", "y"), Passage("a#0", "dup")])
        assert store.count() == 1  # the whole batch rolled back


def test_read_only(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    with SQLiteDocStore(path) as store:
        store.add([Passage("a#0", "x")])
    with SQLiteDocStore(path, read_only=True) as ro:
        assert ro.count() == 1
        with pytest.raises(InputError):
            ro.add([Passage("b#0", "y")])


def test_a_store_from_before_the_key_mark_never_reuses_its_newest_key(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:  # as stores were written before: plain rowids, no key_floor
        conn.execute("CREATE TABLE passages (key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL "
                     "DEFAULT '', text TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', metadata TEXT NOT NULL "
                     "DEFAULT '{}')")
        conn.executemany("INSERT INTO passages (id, text) VALUES (?, ?)",
                         [(f"doc{i}#0", f"text {i}") for i in range(3)])
    conn.close()
    with SQLiteDocStore(path) as store:
        assert store.delete(["doc2#0"]) == [3]
        assert store.add([Passage("doc2#0", "corrected text 2")]) == [4]
