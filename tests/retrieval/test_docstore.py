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
