"""Several index folders searched as one: the embedded default beside the user's own collections.

A user who runs `qa index ~/notes` expects a plain `qa ask` to answer from the notes, without
losing the general knowledge of the default collection. Each collection proposes its own dense
and BM25 candidates; the candidates are pooled (keys made unique per collection) and fused once,
so a passage competes on the same scale whichever folder it lives in: dense scores are cosines of
one encoder, and min-max normalisation runs over the pooled list. A question can also name one
collection, which is then searched alone.

Collections live in `settings.index_dir`, one folder each (`qa index PATH --name NAME` writes
`<index_dir>/NAME`); the embedded default is called `default`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa.core.errors import ConflictError, DamagedCollection, DataFormatError, InputError, NotFoundError
from qa.core.settings import Settings
from qa.core.text import unaccented
from qa.core.types import Encoder
from retrieval.bm25 import BM25Index
from retrieval.fusion import fuse
from retrieval.hybrid import HybridRetriever, fusion_params
from retrieval.index_dir import is_complete, is_damaged
from retrieval.passage import RetrievedPassage

DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


@dataclass(frozen=True)
class Collection:
    name: str
    folder: Path


def check_name(name: str) -> str:
    """Collection names become folder names: letters, digits, '.', '_' and '-' only."""
    if not isinstance(name, str) or not _NAME.match(name) or name in {".", ".."}:
        # "Zoë-notes", as a folder of that name is indexed: its collection is "Zoe-notes"
        near = _safe(name) if isinstance(name, str) else ""
        hint = f" (a folder named so is indexed as {near!r})" if near and near != name and _NAME.match(near) else ""
        raise InputError(
            f"invalid collection name {name!r}: use 1-64 ASCII letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit{hint}"
        )
    return name


def check_case_apart(name: str, settings: Settings) -> None:
    """A new collection whose name differs from an existing one's in case alone ("Notes" beside
    "notes") is refused: on a file system that does not keep case the two are one folder."""
    root = Path(settings.index_dir)
    if not root.is_dir():
        return
    for p in root.iterdir():
        if p.name != name and p.name.lower() == name.lower() and (is_complete(p) or is_damaged(p)):
            raise ConflictError(f"a collection named {p.name!r} exists: {name!r} differs from it in case alone, "
                                "and on some file systems the two are one folder; use that name or another")


def collection_name_for(path: str | Path) -> str:
    """A default collection name for an indexed path: its file or folder name, made safe (accents
    dropped rather than the letters: `Übersicht` -> `Ubersicht`)."""
    safe = _safe(Path(path).expanduser().resolve().name) or "documents"
    return safe if safe.lower() != DEFAULT_NAME else "default-docs"


def _safe(name: str) -> str:
    """`name` in the letters a collection's name may hold (accents dropped, anything else a '-')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", unaccented(name)).strip("-._")[:64]


def user_collections(settings: Settings) -> list[Collection]:
    """Every complete index folder directly under `settings.index_dir`, by name."""
    root = Path(settings.index_dir)
    if not root.is_dir():
        return []
    return [Collection(p.name, p) for p in sorted(root.iterdir())
            if p.is_dir() and _NAME.match(p.name) and p.name != DEFAULT_NAME and is_complete(p)]


def damaged_collections(settings: Settings) -> list[Collection]:
    """Folders under `settings.index_dir` named as a collection that hold part of an index only
    (`is_damaged`): left out of searches with a warning, listed and deletable as damaged."""
    root = Path(settings.index_dir)
    if not root.is_dir():
        return []
    return [Collection(p.name, p) for p in sorted(root.iterdir())
            if _NAME.match(p.name) and p.name != DEFAULT_NAME and is_damaged(p)]


def discover(settings: Settings, default_folder: Path | None) -> list[Collection]:
    """The collections `qa ask` searches: the default (when included and given) and the user's.
    A damaged one is left out and said, not passed over in silence."""
    out = []
    if settings.include_default and default_folder is not None:
        out.append(Collection(DEFAULT_NAME, default_folder))
    for c in damaged_collections(settings):
        logging.getLogger(__name__).warning(
            "left out the collection %s: %s holds part of an index only (no %s among its files); "
            "`qa index --delete %s` removes it, `qa index PATH --name %s` rebuilds it",
            c.name, c.folder, ", ".join(_missing_parts(c.folder)), c.name, c.name)
    return out + user_collections(settings)


def _missing_parts(folder: Path) -> list[str]:
    from retrieval.index_dir import BM25_DIR, DENSE, DOCSTORE, MANIFEST

    return [n for n in (MANIFEST, DOCSTORE, DENSE, f"{BM25_DIR}/bm25.json") if not (folder / n).exists()]


class CollectionSet:
    """Searches several collections as one ranking; retrievers open lazily, once each."""

    def __init__(self, collections: list[Collection], settings: Settings, *, encoder: Encoder | None = None,
                 depth: int | None = None) -> None:
        if not collections:
            raise NotFoundError("no passage collection to search: index documents with `qa index PATH`, "
                                "or set QA_INCLUDE_DEFAULT=true")
        names = [c.name for c in collections]
        if len(set(names)) != len(names):
            raise InputError(f"duplicate collection names: {', '.join(names)}")
        self.collections = {c.name: c for c in collections}
        self.settings = settings
        self.encoder = encoder
        self.depth = depth or settings.retrieve_k
        self._retrievers: dict[str, HybridRetriever] = {}
        self._broken: dict[str, str] = {}  # damaged collection -> why (left out until reloaded)
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.collections)

    @property
    def broken(self) -> list[str]:
        """The collections left out because their files do not read (until `reload`). Without the
        lock, which loading holds for as long as it takes: a health probe reads it."""
        for _ in range(3):
            try:
                return sorted(self._broken)
            except RuntimeError:  # changed while read: read again
                continue
        return []

    @property
    def readable(self) -> list[str]:
        """The collections searched: those found damaged are left out (until `reload`)."""
        with self._lock:
            return [n for n in self.collections if n not in self._broken]

    @contextlib.contextmanager
    def _blaming(self, name: str) -> Iterator[None]:
        """A collection whose store or index stops reading while it is searched is named in the
        error, and the searches after it leave it out, as a damaged one found at start is."""
        try:
            yield
        except DamagedCollection:
            raise
        except DataFormatError as exc:
            with self._lock:
                first = name not in self._broken
                self._broken[name] = str(exc)
            if first:  # said once; tried again after `reload(name)`
                logging.getLogger(__name__).warning("left out the collection %s: %s", name, exc)
            raise DamagedCollection(name, str(exc)) from exc

    def retriever(self, name: str) -> HybridRetriever:
        if name not in self.collections:
            raise NotFoundError(f"no collection named {name!r}; known: {', '.join(self.names)}")
        with self._lock:
            if name not in self._retrievers:
                self._retrievers[name] = HybridRetriever.from_index_dir(
                    self.collections[name].folder, self.settings, depth=self.depth, encoder=self.encoder)
            return self._retrievers[name]

    def warm_up(self) -> None:
        self._usable(self.names)

    def _usable(self, names: list[str]) -> list[tuple[str, HybridRetriever]]:
        """The retrievers of `names`; one whose folder is damaged is left out with a warning (once),
        so one broken collection does not silence the others, unless it is the only one."""
        out: list[tuple[str, HybridRetriever]] = []
        with self._lock:
            broken = dict(self._broken)
        for name in names:
            if name in broken and len(names) > 1:
                continue  # said once; tried again after `reload(name)`
            try:
                with self._blaming(name):
                    out.append((name, self.retriever(name)))
            except DamagedCollection as exc:
                if len(names) == 1:  # asked by name: said again, each time
                    raise
                broken[name] = str(exc)
        if not out:  # every one damaged: the first one's reason
            raise DataFormatError(next(iter(broken.values()), "no readable passage collection"))
        return out

    def reload(self, name: str) -> None:
        """Forget an opened retriever (after its folder was rewritten), so the next search reopens it."""
        with self._lock:
            old = self._retrievers.pop(name, None)
            self._broken.pop(name, None)
        if old is not None:
            old.close()

    def search(self, query: str, k: int, *, collection: str | None = None) -> list[RetrievedPassage]:
        """The top k passages over all collections (or the one named), best first."""
        retrievers = self._usable([collection] if collection else self.names)
        if len(retrievers) == 1:
            name, r = retrievers[0]
            with self._blaming(name):
                hits = r.search(query, k)
            for h in hits:
                h.collection = name
            return hits
        vector = retrievers[0][1].encoder.encode([query])[0]
        pooled: dict[str, list[tuple[tuple[int, int], float]]] = {"dense": [], "bm25": []}
        # BM25 as over one collection (a term weighed by its counts in all of them): weighed by each
        # one's own counts, a small collection of notes ranked under articles that barely matched
        depth = max(r.depth for _, r in retrievers)
        together = BM25Index.search_together([r.bm25 for _, r in retrievers], query, depth)
        for i, (name, r) in enumerate(retrievers):
            with self._blaming(name):
                found = r.candidates(query, vector, bm25=False)
            found["bm25"] = together[i][: r.depth]
            for kind, listed in found.items():
                pooled[kind].extend(((i, key), value) for key, value in listed)
        for lst in pooled.values():
            lst.sort(key=lambda kv: -kv[1])
        method, weights, rrf_k = fusion_params(self.settings)
        ranked = fuse(pooled, method, weights, rrf_k)[:k]
        out: list[RetrievedPassage] = []
        for i, (name, r) in enumerate(retrievers):
            mine = [(key, score) for (ci, key), score in ranked if ci == i]
            cands = {kind: [(key, s) for (ci, key), s in lst if ci == i] for kind, lst in pooled.items()}
            with self._blaming(name):
                hits = r.materialise(mine, cands)
            for hit in hits:
                hit.collection = name
                out.append(hit)
        index = {name: i for i, (name, _) in enumerate(retrievers)}
        order: dict[tuple[int, int | None], int] = {ck: pos for pos, (ck, _) in enumerate(ranked)}
        out.sort(key=lambda h: order[(index[h.collection], h.key)])
        return out

    def close(self) -> None:
        for r in self._retrievers.values():
            r.close()
        self._retrievers.clear()

