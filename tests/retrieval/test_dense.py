from pathlib import Path

import faiss
import numpy as np
import pytest

from qa.core.errors import DataFormatError, InputError
from retrieval.dense import DenseIndex


def _vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "fp16", "hnsw"])
def test_add_delete_save_mmap_load(kind: str, tmp_path: Path) -> None:
    x = _vectors(100)
    ids = np.arange(100, dtype=np.int64) * 7 + 1_000_000_000_000  # int64 ids beyond 32 bits
    idx = DenseIndex(16, kind)
    idx.add(ids, x)
    _, found = idx.search(x[:3], 1)
    assert found[:, 0].tolist() == ids[:3].tolist()
    assert idx.delete([int(ids[0]), 12345]) == 1
    assert len(idx) == 99
    _, found = idx.search(x[:1], 5)
    assert int(ids[0]) not in found[0].tolist()
    idx.add([42], x[:1])  # a new id for the deleted vector, no rebuild
    path = tmp_path / "dense.faiss"
    idx.save(path)
    loaded = DenseIndex.load(path, mmap=True)
    assert loaded.kind == kind and loaded.read_only and len(loaded) == 100
    maps = Path("/proc/self/maps")
    if maps.exists():  # really mapped from the file (read_only alone is the argument said back)
        assert str(path.resolve()) in maps.read_text()
    _, found = loaded.search(x[:1], 1)
    assert found[0, 0] == 42
    with pytest.raises(InputError):
        loaded.add([7], x[:1])
    editable = DenseIndex.load(path, mmap=False)
    editable.add([7], x[1:2])
    assert len(editable) == 101


def test_duplicate_and_dimension_errors() -> None:
    idx = DenseIndex(16)
    idx.add([1], _vectors(1))
    with pytest.raises(InputError):
        idx.add([1], _vectors(1))
    with pytest.raises(InputError):
        idx.add([2], np.zeros((1, 8), dtype=np.float32))


def test_failed_save_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "dense.faiss"
    old = DenseIndex(16)
    old.add([1, 2], _vectors(2))
    old.save(path)
    before = path.read_bytes()

    def broken_write(index: faiss.Index, name: str) -> None:
        Path(name).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", broken_write)
    new = DenseIndex(16)
    new.add([3], _vectors(1, seed=1))
    with pytest.raises(OSError):
        new.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["dense.faiss"]  # no temp file left behind
    monkeypatch.undo()
    assert len(DenseIndex.load(path)) == 2


def test_load_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "x.faiss"
    bad.write_bytes(b"not an index")
    with pytest.raises(DataFormatError):
        DenseIndex.load(bad)
