"""An index folder: the unit that is built, shipped, swapped and searched.

Layout::

    manifest.json      encoder name, dims, passage count, dense kind, chunking, created
    docstore.sqlite    passages (key, id, title, text, source, metadata)
    dense.faiss        FAISS id-mapped index, ids = docstore keys
    bm25/              bm25s index + ids.npy (docstore keys)

The manifest is written last when building, so a folder without one is incomplete. Keeping
the encoder name in the manifest lets a search refuse vectors from a different encoder.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.core.atomic import atomic_write_text, dir_lock
from qa.core.errors import DataFormatError, InputError
from qa.core.text import json_file

MANIFEST = "manifest.json"
DOCSTORE = "docstore.sqlite"
DENSE = "dense.faiss"
BM25_DIR = "bm25"
FORMAT_VERSION = 1
# everything an index folder may hold (SQLite's journal files beside its store): a folder holding
# anything else is someone's, and building an index there would delete it
INDEX_ENTRIES = frozenset({MANIFEST, DOCSTORE, DENSE, DENSE + ".deleted.json", BM25_DIR}  # HNSW's deletions
                          | {DOCSTORE + x for x in ("-wal", "-shm", "-journal")} | {".DS_Store"})


@dataclass
class Manifest:
    encoder: str
    dims: int
    count: int
    dense_kind: str
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    chunk_chars: int = 0
    chunk_overlap: int = 0
    sources: list[str] = field(default_factory=list)
    format: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        atomic_write_text(folder / MANIFEST, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.exists():
            raise InputError(
                f"{folder} is not an index folder (no {MANIFEST}); build one with `qa index PATH`"
            )
        try:
            data = json_file(path)
            if not isinstance(data, dict):
                raise TypeError(f"a JSON object is expected, not {type(data).__name__}")
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            kinds = {"encoder": str, "dims": int, "count": int, "dense_kind": str, "extra": dict}
            for name, kind in kinds.items():  # a count of "12" was a traceback wherever it was shown
                if name in known and (not isinstance(known[name], kind) or isinstance(known[name], bool)):
                    raise TypeError(f"'{name}' must be {kind.__name__}, not {type(known[name]).__name__}")
            return cls(**known)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError, OSError) as exc:
            raise DataFormatError(f"{path} is not a valid index manifest: {exc}") from exc


def check_target(out: str | Path, source: str | Path | None = None) -> Path:
    """Refuse to build an index where the swap would destroy something that is not an index:
    a file, a folder with other things in it, or the documents being indexed. (The build replaces
    the whole folder, so `--out ~/notes` would otherwise delete the notes.)"""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not an index folder: choose a new folder for the index")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{parent} is a file, not a folder: the index {out} cannot be written under it")
    if source is not None:
        src, dst = Path(source).expanduser().resolve(), out.resolve()
        if dst == src or dst in src.parents:
            raise InputError(f"the index folder {out} would replace the documents being indexed: "
                             "choose a folder outside them")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in INDEX_ENTRIES) if out.is_dir() else []
    if foreign:  # a manifest.json alone says little: a web app's folder has one too
        raise InputError(f"{out} is a folder with other files in it ({', '.join(foreign[:3])}"
                         f"{', ...' if len(foreign) > 3 else ''}), not an index: choose a new or empty "
                         "folder (building an index replaces the whole folder)")
    return out


def folder_lock(folder: str | Path) -> contextlib.AbstractContextManager[None]:
    """The lock whoever replaces an index folder holds from its last look at the folder to its
    swap (`qa index` in one process, the API's document edits in another): a build that started
    before an edit then sees the edit instead of dropping it. It is the parent folder's (the
    folder itself is swapped away), so one replacement there waits for another; not re-entrant."""
    return dir_lock(Path(folder).expanduser().absolute().parent)


def manifest_stamp(folder: str | Path) -> tuple[int, int] | None:
    """What changes whenever the folder is rewritten (every write swaps in a new manifest)."""
    try:
        st = (Path(folder).expanduser() / MANIFEST).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def is_complete(folder: str | Path) -> bool:
    """True when `folder` holds every part of an index (the manifest is written last)."""
    f = Path(folder)
    return all((f / name).exists() for name in (MANIFEST, DOCSTORE, DENSE, BM25_DIR + "/bm25.json"))


def is_damaged(folder: str | Path) -> bool:
    """True when `folder` holds part of an index but not all of it. Builds happen in a hidden
    staging folder swapped in whole, so under a collection's own name this is damage (a copy cut
    short, a file removed), not a build in progress."""
    f = Path(folder)
    parts = (MANIFEST, DOCSTORE, DENSE, BM25_DIR)
    return f.is_dir() and any((f / name).exists() for name in parts) and not is_complete(f)


def summarise_sources(sources: Sequence[str], limit: int = 20) -> list[str]:
    """A short, de-duplicated list of sources for the manifest."""
    seen: list[str] = []
    for s in sources:
        base = s.split(":", 1)[0] if s.count(":") and not s.startswith(("http:", "https:")) else s
        if base not in seen:
            seen.append(base)
        if len(seen) >= limit:
            break
    return seen
