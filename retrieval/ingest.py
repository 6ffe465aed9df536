"""Build and edit index folders from files or passages (`qa index PATH`).

Every build writes into a staging folder beside the target and swaps it in only once all
parts (docstore, FAISS, BM25, manifest) are written and fsynced, so an interrupted or failed
run (a non-UTF-8 file, a full disk, Ctrl-C) leaves the previous index untouched.
Edits (`add_passages`, `delete_passages`) work on a copy the same way; the FAISS index takes
the new vectors or drops the deleted ids in place (no re-encoding of the rest), and BM25 is
re-derived from the docstore, which takes about a second per 10k passages.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.atomic import staging_dir, swap_dir
from qa.core.errors import DataFormatError, InputError, QAError
from qa.core.settings import Settings
from qa.core.text import counted
from retrieval.bm25 import BM25Index
from retrieval.chunking import chunk_text
from retrieval.dense import DenseIndex
from retrieval.docstore import SQLiteDocStore
from retrieval.documents import Document, discover, read_documents
from retrieval.encoder import TextEncoder
from retrieval.index_dir import (
    BM25_DIR,
    DENSE,
    DOCSTORE,
    Manifest,
    check_target,
    folder_lock,
    manifest_stamp,
    summarise_sources,
)
from retrieval.passage import Passage

log = logging.getLogger("qa.index")


def chunk_documents(docs: Sequence[Document], chunk_chars: int, chunk_overlap: int) -> list[Passage]:
    """Passages `<doc_id>#<n>` from documents, each keeping its document's title and source."""
    passages: list[Passage] = []
    seen: dict[str, str] = {}
    for doc in docs:
        if doc.doc_id in seen:
            raise InputError(f"document id {doc.doc_id!r} occurs twice ({seen[doc.doc_id]} and {doc.source}): ids "
                             "must differ across the files of a collection (or index the files apart, with --name)")
        seen[doc.doc_id] = doc.source
        for i, chunk in enumerate(chunk_text(doc.text, chunk_chars, chunk_overlap)):
            passages.append(
                Passage(
                    id=f"{doc.doc_id}#{i}",
                    text=chunk,
                    title=doc.title,
                    source=doc.source,
                    metadata=dict(doc.metadata),
                )
            )
    return passages


def passages_from_path(path: str | Path, settings: Settings, *, progress: bool = False) -> list[Passage]:
    """Read, parse and chunk every supported file under `path` (fails before any index is touched).
    With `progress`, a spinner counts the files: a large folder takes minutes before encoding starts."""
    docs: list[Document] = []
    status: AbstractContextManager[Any] = contextlib.nullcontext()
    if progress:
        from rich.console import Console
        from rich.text import Text

        status = Console(stderr=True).status("reading the documents …")
    refused: list[tuple[str, QAError]] = []
    empty: list[str] = []
    with status as shown:
        files = discover(path)
        for n, (file, rel) in enumerate(files, 1):
            if shown is not None:  # a file name is text, never markup ("[draft].md")
                shown.update(Text(f"reading the documents: {n:,} files, {len(docs):,} documents ({rel}) …"))
            try:
                before = len(docs)
                docs.extend(read_documents(file, rel))
                if len(docs) == before:
                    empty.append(rel)
            except (InputError, DataFormatError) as exc:  # every file that cannot be read is said at once
                refused.append((rel, exc))
        if len(refused) == 1:
            raise refused[0][1]
        if refused:
            first = refused[0][1]
            more = ", ".join(rel for rel, _ in refused[1:6]) + (", …" if len(refused) > 6 else "")
            raise type(first)(f"{first}; {len(refused) - 1:,} more files cannot be read either: {more} "
                              "(nothing was indexed)")
        passages = chunk_documents(docs, settings.chunk_chars, settings.chunk_overlap)
    if not passages:
        raise InputError(f"no text found to index under {path}")
    if empty:  # an empty file, a page of scripts, front matter alone: left out without a word before
        log.warning("left out %s holding no text: %s", counted(len(empty), "file"),
                    ", ".join(empty[:5]) + (", …" if len(empty) > 5 else ""))
    if progress:
        from rich.console import Console

        Console(stderr=True).print(f"read {counted(len(files) - len(empty), 'file')}: "
                                   f"{counted(len(docs), 'document')}, {counted(len(passages), 'passage')}",
                                   markup=False, highlight=False)
    return passages


def _write_parts(
    folder: Path,
    passages: Sequence[Passage],
    vectors: np.ndarray,
    encoder_name: str,
    dense_kind: str,
    settings: Settings,
    extra: dict | None = None,
) -> Manifest:
    with SQLiteDocStore(folder / DOCSTORE) as store:
        keys = store.add(passages)
    dense = DenseIndex(int(vectors.shape[1]), dense_kind)
    dense.add(keys, vectors)
    dense.save(folder / DENSE)
    BM25Index().build(keys, [_bm25_text(p) for p in passages]).save(folder / BM25_DIR)
    manifest = Manifest(
        encoder=encoder_name,
        dims=int(vectors.shape[1]),
        count=len(passages),
        dense_kind=dense_kind,
        chunk_chars=settings.chunk_chars,
        chunk_overlap=settings.chunk_overlap,
        sources=summarise_sources([p.source for p in passages]),
        extra=dict(extra or {}),
    )
    manifest.save(folder)  # last: its presence marks the folder complete
    return manifest


def _bm25_text(p: Passage) -> str:
    """BM25 sees the title too: a chunk often never repeats its article's name."""
    return f"{p.title}\n{p.text}" if p.title else p.text


def _dense_text(p: Passage) -> str:
    """The encoder sees the passage text alone (titles are often absent from short queries'
    phrasing, and MiniLM was trained on plain sentences)."""
    return p.text


def build_index(
    passages: Sequence[Passage],
    out: str | Path,
    settings: Settings,
    *,
    progress: bool = True,
    dense_kind: str = "flat",
    embeddings: np.ndarray | None = None,
    description: str = "encoding passages",
    extra: dict | None = None,
    before_swap: Callable[[], None] | None = None,
) -> Path:
    """Build a complete index folder at `out` from `passages`, atomically replacing any old one.

    `embeddings` (n, dim), when given, must come from the same encoder and passage texts; it
    lets benchmarks reuse vectors they have already computed. `before_swap`, when given, runs
    under the folder's lock (`folder_lock`) right before the swap, and may refuse it by raising:
    the caller then must not hold that lock itself.
    """
    if not passages:
        raise InputError("nothing to index: no passages")
    out = Path(out)
    encoder = TextEncoder(settings)
    if embeddings is None:
        embeddings = encoder.encode(
            [_dense_text(p) for p in passages], progress=progress, description=description
        )
    elif len(embeddings) != len(passages):
        raise InputError(f"{len(embeddings)} embeddings for {len(passages)} passages")
    with _writing(progress, len(passages)), staging_dir(out) as tmp:
        _write_parts(
            tmp, passages, np.asarray(embeddings, dtype=np.float32), encoder.name, dense_kind, settings, extra
        )
        with folder_lock(out) if before_swap is not None else contextlib.nullcontext():
            if before_swap is not None:
                before_swap()
            swap_dir(tmp, out)
    return out


def _writing(progress: bool, count: int) -> AbstractContextManager[object]:
    """A spinner for the write phase (passage store, FAISS, BM25, fsync): seconds per 10k passages,
    silent before, right after the encoding bar reached its end."""
    if not progress:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(f"writing the index ({count:,} passages: store, vectors, BM25) …")


def index_path(
    path: str | Path, out: str | Path, settings: Settings, *, progress: bool = True, dense_kind: str = "flat",
    seen: tuple[int, int] | None | bool = False,
) -> tuple[Path, int]:
    """`qa index PATH`: index the files under `path` into folder `out`; returns (folder, passages).
    `seen`: the folder's `manifest_stamp` when the caller checked it (by default, now); a folder
    that changed since is not replaced."""
    out = check_target(out, path)  # expanded (`~/idx`): the folder checked is the folder written
    if seen is False:
        seen = manifest_stamp(out)
    passages = passages_from_path(path, settings, progress=progress)
    root = {"root": str(Path(path).expanduser().resolve())}  # what `qa index` checks before replacing it

    def unchanged() -> None:
        if manifest_stamp(out) != seen:  # documents added or deleted through the API, another build
            raise InputError(f"{out} changed while this ran (documents added or deleted through the API, or "
                             "another `qa index`): nothing was replaced; run it again")

    folder = build_index(passages, out, settings, progress=progress, dense_kind=dense_kind, extra=root,
                         before_swap=unchanged)
    return folder, len(passages)


def _rebuild_bm25(folder: Path) -> int:
    with SQLiteDocStore(folder / DOCSTORE) as store:
        rows = list(store.iter_all())
    BM25Index().build([k for k, _ in rows], [_bm25_text(p) for _, p in rows]).save(folder / BM25_DIR)
    return len(rows)


def add_passages(folder: str | Path, passages: Sequence[Passage], settings: Settings) -> int:
    """Add passages to an existing index without re-encoding the others; returns the new count."""
    folder = Path(folder)
    manifest = Manifest.load(folder)
    encoder = TextEncoder(settings)
    if encoder.name != manifest.encoder:
        raise InputError(f"{folder} was built with {manifest.encoder}, not {encoder.name}")
    vectors = encoder.encode([_dense_text(p) for p in passages])
    with staging_dir(folder) as tmp:
        shutil.copytree(folder, tmp, dirs_exist_ok=True)
        dense = DenseIndex.load(tmp / DENSE, mmap=False)
        with SQLiteDocStore(tmp / DOCSTORE) as store:
            keys = store.add(passages, min_key=dense.next_free_id())
        dense.add(keys, vectors)
        dense.save(tmp / DENSE)
        manifest.count = _rebuild_bm25(tmp)
        # the ids of the documents added through the API, where every one is known (none before, or
        # a list kept since the first): the last one deleted, `qa index` of the folder asks no more
        if API_DOCUMENTS in manifest.extra or not manifest.extra.get("added_documents"):
            added = {_document_of(p.id) for p in passages}
            manifest.extra[API_DOCUMENTS] = sorted(set(manifest.extra.get(API_DOCUMENTS) or ()) | added)
        manifest.extra["added_documents"] = True  # `qa index` of its folder would drop them: it asks first
        manifest.save(tmp)
        swap_dir(tmp, folder)
    return manifest.count


API_DOCUMENTS = "api_documents"  # in a manifest: the ids of the documents added through the API


def _document_of(passage_id: str) -> str:
    """The document a passage was cut from (`chunk_documents` names passages `<doc_id>#<n>`)."""
    return passage_id.rsplit("#", 1)[0]


def delete_passages(folder: str | Path, ids: Sequence[str]) -> int:
    """Delete passages by id from an existing index; returns how many were removed."""
    folder = Path(folder)
    manifest = Manifest.load(folder)
    with staging_dir(folder) as tmp:
        shutil.copytree(folder, tmp, dirs_exist_ok=True)
        with SQLiteDocStore(tmp / DOCSTORE) as store:
            keys = store.delete(ids)
            left = set(summarise_sources(store.sources(), limit=10**9))
            touched = {_document_of(i) for i in ids}
            kept = {d for d in touched if store.has_document(d)}  # a document only part of which was deleted
        dense = DenseIndex.load(tmp / DENSE, mmap=False)
        dense.delete(keys)
        dense.save(tmp / DENSE)
        manifest.count = _rebuild_bm25(tmp)
        manifest.sources = [s for s in manifest.sources if s in left]  # a file's name can itself be personal data
        listed = manifest.extra.get(API_DOCUMENTS)
        if listed is not None:  # the last document added through the API gone: `qa index` of the folder asks no more
            listed = sorted(d for d in listed if d not in touched or d in kept)
            manifest.extra[API_DOCUMENTS] = listed
            if not listed:
                manifest.extra.pop("added_documents", None)
        manifest.save(tmp)
        swap_dir(tmp, folder)
    return len(keys)
