"""Dense vector index: FAISS with int64 ids, incremental add/delete, atomic save, mmap load.

Vectors are L2-normalised, so inner product is cosine similarity. Kinds:

* ``flat`` (default): `IndexIDMap2(IndexFlatIP)`, exact search; right for up to a few
  hundred thousand passages on one CPU.
* ``fp16``: `IndexIDMap2(IndexScalarQuantizer fp16)`, exact search over half-precision
  vectors; half the size on disk, used for the shipped default index so the repository stays
  small. Recall is indistinguishable from flat for normalised MiniLM vectors.
* ``hnsw``: `IndexIDMap2(IndexHNSWFlat)`, approximate and sub-linear for large collections.
  HNSW graphs cannot drop nodes, so deletes are tombstones filtered at search time (an
  `IDSelector`), kept in a side file, until the next rebuild.

The id map (`IndexIDMap2`) lets passages keep the docstore's integer key as their FAISS id, so
adding or deleting passages never renumbers the rest and needs no rebuild.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import faiss
import numpy as np

from qa.core.atomic import atomic_write
from qa.core.errors import DataFormatError, InputError
from qa.core.text import json_file


class DenseKind(StrEnum):
    FLAT = "flat"
    FP16 = "fp16"
    HNSW = "hnsw"


KINDS: tuple[str, ...] = tuple(k.value for k in DenseKind)
HNSW_M = 32


def dense_kind(kind: str) -> DenseKind:
    try:
        return DenseKind(str(kind))
    except ValueError:
        raise InputError(f"unknown dense index kind {str(kind)!r}; choose one of {', '.join(KINDS)}") from None


def _new_base(kind: DenseKind, dim: int) -> faiss.Index:
    if kind == DenseKind.FLAT:
        return faiss.IndexFlatIP(dim)
    if kind == DenseKind.FP16:
        return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    base = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    base.hnsw.efConstruction = 80
    base.hnsw.efSearch = 64
    return base


def _as_ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def _as_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.shape[1] != dim:
        raise InputError(f"vectors have {x.shape[1]} dimensions; the index has {dim}")
    return x


class DenseIndex:
    """A FAISS index of (int64 id -> unit vector) with add, delete, search, save and load."""

    def __init__(self, dim: int, kind: DenseKind | str = DenseKind.FLAT) -> None:
        self.dim = dim
        self.kind = dense_kind(kind)
        self.index: faiss.IndexIDMap2 = faiss.IndexIDMap2(_new_base(self.kind, dim))
        self.tombstones: set[int] = set()
        self.read_only = False

    def __len__(self) -> int:
        return int(self.index.ntotal) - len(self.tombstones)

    # -- mutation ---------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise InputError("this dense index was memory-mapped read-only; load it with mmap=False to edit")

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Add vectors under the given ids (ids must not be present already)."""
        self._check_writable()
        ids_arr = _as_ids(ids)
        x = _as_vectors(vectors, self.dim)
        if len(ids_arr) != len(x):
            raise InputError(f"{len(ids_arr)} ids for {len(x)} vectors")
        if len(ids_arr) == 0:
            return
        if len(set(ids_arr.tolist())) != len(ids_arr):
            raise InputError("duplicate ids in one add")
        present = [i for i in ids_arr.tolist() if self.contains(i) or i in self.tombstones]
        if present:
            raise InputError(f"ids already in the index: {present[:5]}")
        self.index.add_with_ids(x, ids_arr)

    def next_free_id(self) -> int:
        """One above every id the index holds or keeps as a tombstone (1 when empty)."""
        held = int(faiss.vector_to_array(self.index.id_map).max()) if self.index.ntotal else 0
        return max(0, held, max(self.tombstones, default=0)) + 1

    def contains(self, id_: int) -> bool:
        if id_ in self.tombstones:
            return False
        try:
            self.index.reconstruct(int(id_))
        except RuntimeError:
            return False
        return True

    def delete(self, ids: np.ndarray | list[int]) -> int:
        """Remove ids without rebuilding; returns how many were removed."""
        self._check_writable()
        ids_arr = _as_ids(ids)
        if self.kind == DenseKind.HNSW:
            fresh = [i for i in ids_arr.tolist() if self.contains(i)]
            self.tombstones.update(fresh)
            return len(fresh)
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids_arr)))

    # -- search -----------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; missing slots have id -1 and score -inf."""
        q = _as_vectors(queries, self.dim)
        k = max(1, min(k, max(len(self), 1)))
        params = None
        if self.tombstones:
            sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(_as_ids(sorted(self.tombstones))))
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]  # not in faiss's stubs
                sel=sel, efSearch=max(64, k))
            self._selector = sel  # keep the selector alive while FAISS holds a pointer
        elif self.kind == DenseKind.HNSW:
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]  # not in faiss's stubs
                efSearch=max(64, k))
        scores, ids = self.index.search(q, k, params=params)
        scores = np.where(ids < 0, -np.inf, scores)
        return scores, ids

    def vectors(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """The stored vectors for `ids` (fp16 kinds come back as float32)."""
        ids_arr = _as_ids(ids)
        out = np.zeros((len(ids_arr), self.dim), dtype=np.float32)
        for row, i in enumerate(ids_arr.tolist()):
            out[row] = self.index.reconstruct(int(i))
        return out

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Atomically write the index (and its tombstones, for HNSW) to `path`."""
        path = Path(path)
        atomic_write(path, lambda tmp: faiss.write_index(self.index, str(tmp)))
        side = _tombstone_path(path)
        if self.tombstones:
            payload = json.dumps(sorted(self.tombstones))
            atomic_write(side, lambda tmp: tmp.write_text(payload, encoding="utf-8"))
        else:
            side.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True) -> DenseIndex:
        """Load an index; with `mmap` the vectors stay on disk, paged in by the OS on demand.

        A memory-mapped index is read-only (FAISS cannot grow a mapped file); load with
        `mmap=False` to add or delete.
        """
        path = Path(path)
        if not path.exists():
            raise DataFormatError(f"dense index not found: {path}")
        flags = (faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY) if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as exc:
            if not mmap:
                raise DataFormatError(f"{path} is not a FAISS index: {exc}") from exc
            try:  # index types that cannot be mapped are read into memory instead
                index = faiss.read_index(str(path))
                mmap = False
            except RuntimeError as exc2:
                raise DataFormatError(f"{path} is not a FAISS index: {exc2}") from exc2
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        if not isinstance(index, faiss.IndexIDMap2):
            raise DataFormatError(f"{path} is not an id-mapped FAISS index")
        base = faiss.downcast_index(index.index)
        kind = (
            DenseKind.HNSW
            if isinstance(base, faiss.IndexHNSW)
            else DenseKind.FP16
            if isinstance(base, faiss.IndexScalarQuantizer)
            else DenseKind.FLAT
        )
        obj = cls.__new__(cls)
        obj.dim = int(index.d)
        obj.kind = kind
        obj.index = index
        obj.read_only = mmap
        side = _tombstone_path(path)
        obj.tombstones = set(json_file(side)) if side.exists() else set()
        return obj


def _tombstone_path(path: Path) -> Path:
    return path.with_name(path.name + ".deleted.json")
