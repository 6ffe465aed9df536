"""Search over the stored threads' questions: dense (FAISS, inner product of unit vectors) and
BM25 (bm25s), each proposing candidates for the re-scorer.

The store is the truth; the index follows it without rebuilds:

* Dense: an id-mapped FAISS index (ids = the store's thread keys). New threads are encoded once,
  their vectors written into the store in the same transaction as nothing else, then added to
  the index; the index file (`dense.faiss`, saved atomically) is reconciled with the store when it
  is opened: vectors of threads it lacks are added from the store, deleted threads are removed.
  So a crash between a store write and an index save costs nothing but a few additions later.
* BM25: bm25s cannot add documents to a built matrix, so threads added since the last build go
  to a small second BM25 index (rebuilt in milliseconds); the main one is rebuilt from the store
  when the delta grows past a tenth of it, and saved with the store's generation.

Another process may write to the same store while this one answers from it (`qa cqa import`
while `qa serve` runs). Every committed write changes the store's generation, so before each
search the index compares it with the one it last caught up with (one SQLite read) and, when it
moved, catches up by difference (`sync`): threads it lacks are added from their stored vectors,
deleted ones removed. Thread keys are never reused, and an edited question gets a new key, so a key
names one text for good; deletions and edited questions rebuild the BM25 part, which cannot forget.
The whole-thread word statistics (`LexicalStats`) are corpus frequencies kept by addition: answers
added to or removed from a thread already counted move them only at the next rebuild (a deletion,
an edited question, a restart after the store changed), a small drift in a background statistic.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cqa.store import INDEX_META, ThreadStore, index_folder
from cqa.text import tokenize
from qa.core.atomic import atomic_write, atomic_write_text, file_lock, staging_dir, swap_dir
from qa.core.errors import ConfigError, DataFormatError
from qa.core.text import json_file
from qa.core.types import Encoder

log = logging.getLogger(__name__)

DENSE = "dense.faiss"
DENSE_META = INDEX_META
BM25_DIR = "bm25"
LEXICAL = "lexical.json"


class _BM25:
    """One bm25s index over (key, text) pairs."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.retriever: Any = None
        # the store generation read before the texts were: what the index is known to hold (a write
        # committed while it was built is newer, and the file must not claim it)
        self.generation = ""
        self.avgdl = 0.0  # mean tokens a document: what a delta document's length is weighed against
        self.store_id = ""  # the store it was built for (read from a saved index)
        self._df: dict[str, int] | None = None

    def build(self, keys: Sequence[int], texts: Sequence[str], generation: str = "") -> _BM25:
        import bm25s

        self.keys = np.asarray(keys, dtype=np.int64)
        self.retriever = None
        self.generation = generation
        self._df = None
        if len(texts):
            docs = [t or ["\x00"] for t in tokenize(texts)]
            self.avgdl = sum(map(len, docs)) / len(docs)
            self.retriever = bm25s.BM25()
            self.retriever.index(docs, show_progress=False)
        return self

    def df(self) -> dict[str, int]:
        """Documents holding each word (read off the index once)."""
        if self._df is None:
            self._df = {}
            if self.retriever is not None:
                ptr = np.asarray(self.retriever.scores["indptr"])
                self._df = {w: int(ptr[i + 1] - ptr[i]) for w, i in self.retriever.vocab_dict.items()
                            if i + 1 < len(ptr)}  # bm25s adds an empty word with no column
        return self._df

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        if self.retriever is None:
            return np.zeros(len(self.keys), dtype=np.float32)
        vocab = self.retriever.vocab_dict
        ids = [vocab[t] for t in tokens if t in vocab]
        if not ids:
            return np.zeros(len(self.keys), dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def save(self, folder: Path, generation: str, store_id: str = "") -> None:
        with staging_dir(folder) as tmp:
            if self.retriever is not None:
                self.retriever.save(str(tmp), show_progress=False)
            np.save(tmp / "keys.npy", self.keys)
            (tmp / "meta.json").write_text(json.dumps({"generation": generation, "avgdl": self.avgdl,
                                                       "store": store_id}), encoding="utf-8")
            swap_dir(tmp, folder)

    @classmethod
    def load(cls, folder: Path) -> _BM25:
        import bm25s

        meta = json_file(folder / "meta.json")
        obj = cls()
        obj.generation = str(meta.get("generation", ""))
        obj.store_id = str(meta.get("store", ""))
        obj.avgdl = float(meta.get("avgdl", 0.0))
        if not obj.avgdl:  # an index saved before it was recorded: rebuilt from the store
            raise ValueError("no avgdl")
        obj.keys = np.load(folder / "keys.npy")
        if len(obj.keys):
            obj.retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
        return obj


def _delta_scores(query: Sequence[str], main: _BM25 | None, delta: dict[int, list[str]]) -> dict[int, float]:
    """BM25 of threads added since the main index was built, on the main index's scale: the same
    formula as bm25s (Lucene's: no k1 + 1 factor), with the word and length statistics of main and
    delta together. A separate index over the few new threads gave weights of its own, and a thread
    filed a moment ago lost to older similar ones even when asked its exact question."""
    k1, b = 1.5, 0.75
    n_main = len(main.keys) if main is not None else 0
    df_main = main.df() if main is not None else {}
    n = n_main + len(delta)
    total = (main.avgdl * n_main if main is not None else 0.0) + sum(max(len(t), 1) for t in delta.values())
    avgdl = total / max(n, 1)
    words = set(query)
    df_delta = {w: sum(1 for t in delta.values() if w in t) for w in words}
    out = {}
    for key, doc in delta.items():
        score = 0.0
        for w in query:  # a repeated query word counts again, as bm25s counts it
            tf = doc.count(w)
            if tf:
                df = df_main.get(w, 0) + df_delta[w]
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * tf / (tf + k1 * (1 - b + b * max(len(doc), 1) / avgdl))
        if score > 0:
            out[key] = score
    return out


class LexicalStats:
    """Document frequencies over whole threads (question and answers), for the BM25 score of a
    candidate thread's full text: a thread whose answers use the new question's words is likely on
    its topic even when its title is vague. Kept incrementally (`add`), recomputed when stale."""

    K1, B = 1.5, 0.75

    def __init__(self) -> None:
        self.df: dict[str, int] = {}
        self.n_docs = 0
        self.total_len = 0

    def add(self, tokens: Sequence[str]) -> None:
        for t in set(tokens):
            self.df[t] = self.df.get(t, 0) + 1
        self.n_docs += 1
        self.total_len += len(tokens)



    def idf(self, token: str) -> float:
        df = self.df.get(token, 0)
        return float(np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def bm25(self, query: Sequence[str], doc: Sequence[str]) -> float:
        if not doc or not self.n_docs:
            return 0.0
        avg = self.total_len / self.n_docs
        tf: dict[str, int] = {}
        for t in doc:
            tf[t] = tf.get(t, 0) + 1
        norm = self.K1 * (1 - self.B + self.B * len(doc) / max(avg, 1e-9))
        return float(sum(self.idf(t) * tf[t] * (self.K1 + 1) / (tf[t] + norm) for t in set(query) if t in tf))

    def save(self, path: Path, generation: str) -> None:
        payload = {"generation": generation, "n_docs": self.n_docs, "total_len": self.total_len, "df": self.df}
        atomic_write_text(path, json.dumps(payload, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> tuple[LexicalStats, str]:
        data = json_file(path)
        obj = cls()
        obj.df, obj.n_docs, obj.total_len = dict(data["df"]), int(data["n_docs"]), int(data["total_len"])
        return obj, str(data.get("generation", ""))


def _whole_thread_stats(store: ThreadStore) -> LexicalStats:
    stats = LexicalStats()
    for _, tokens in store.iter_full_texts(tokenize):
        stats.add(tokens)
    return stats


class ThreadIndex:
    """Dense + BM25 candidates over a `ThreadStore`; `encoder` is injected (any `Encoder`)."""

    def __init__(self, store: ThreadStore, encoder: Encoder, folder: str | Path | None = None) -> None:
        self.store = store
        self.encoder = encoder
        self.folder = Path(folder) if folder else index_folder(store.path)
        self._lock = threading.RLock()
        self._dense: Any = None
        self._bm25_main: _BM25 | None = None
        self._delta: dict[int, str] = {}
        self._delta_tokens: dict[int, list[str]] = {}
        self._known: set[int] = set()
        self._generation: str | None = None  # the store's generation the index last caught up with
        self._forgot = False  # threads or answers were deleted since the files were written
        self._store_id = ""  # the store's id when the index was loaded
        self._lexical_stale = False  # the statistics in memory count deleted answers (`forget_answers`)
        self.lexical = LexicalStats()

    # ------------------------------------------------------------------ dense
    def _check_encoder(self, *, record: bool = False) -> None:
        """Refuse vectors of another encoder; `record`: name ours when the store has none yet (only
        when vectors are about to be written: loading the index writes nothing)."""
        name = self.store.get_meta("encoder")
        if not name:
            if record and not self.store.read_only:
                self.store.set_meta("encoder", self.encoder.name)
            return
        if name != self.encoder.name:
            raise ConfigError(f"the thread store {self.store.path} was embedded with the encoder {name}; the settings "
                             f"select {self.encoder.name} (re-embed it with `qa cqa embed --reset`)")

    def _same_store(self, saved: object) -> bool:
        """Whether index files recording `saved` were built for this store (a store opened
        read-only from before stores had ids cannot tell, and keeps its files)."""
        ours = self.store.get_meta("store_id")
        return not ours or saved == ours

    def _new_dense(self, dim: int) -> Any:
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def _load_dense(self) -> Any:
        """The saved index reconciled with the store, or one built from the store's vectors."""
        import faiss

        path = self.folder / DENSE
        index = None
        if path.exists():
            try:
                index = faiss.read_index(str(path))
                meta = json_file(self.folder / DENSE_META)
                if meta.get("encoder") != self.encoder.name or not self._same_store(meta.get("store")):
                    index = None
            except (RuntimeError, OSError, ValueError):
                index = None  # unreadable: rebuilt from the store below
        stored = self.store.embedded_keys()
        if index is None:
            index = None
            for keys, vecs in self.store.iter_vectors():
                if index is None:
                    index = self._new_dense(vecs.shape[1])
                index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), keys)
            return index
        return self._reconcile_dense(index, stored)

    def _reconcile_dense(self, index: Any, stored: np.ndarray) -> Any:
        """`index` (or a new one, when None) with exactly the vectors of the `stored` keys: missing
        ones are read from the store."""
        import faiss

        have = np.zeros(0, np.int64)
        if index is not None and index.ntotal:
            have = faiss.vector_to_array(index.id_map).astype(np.int64)
        extra = np.setdiff1d(have, stored)
        if len(extra):
            index.remove_ids(extra)
            self._forgot = True  # deleted threads' vectors: out of the saved file too (`_forget_on_disk`)
        missing = np.setdiff1d(stored, have)
        if len(missing):
            keys, vecs = self.store.vectors_of(missing.tolist())
            if len(keys):
                if index is None:
                    index = self._new_dense(vecs.shape[1])
                index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), keys)
        return index

    def embed_pending(self, *, batch: int = 64, progress: Any = None) -> int:
        """Encode the threads that have no vector yet (resumable: each batch commits on its own);
        `progress(n)` is called with the number done so far. Returns how many were encoded."""
        with self._lock:
            self._check_encoder()
            done = 0
            after = 0
            while True:
                rows = self.store.unembedded(batch, after)
                if not rows:
                    break
                if not done:
                    self._check_encoder(record=True)
                keys = [k for k, _ in rows]
                vecs = np.asarray(self.encoder.encode([t for _, t in rows]), dtype=np.float32)
                self.store.set_vectors(keys, vecs)
                if self._dense is not None:
                    self._add_dense(np.array(keys, dtype=np.int64), vecs)
                done += len(rows)
                after = keys[-1]
                if progress is not None:
                    progress(done)
            return done

    def _add_dense(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        if self._dense is None:
            self._dense = self._new_dense(vecs.shape[1])
        stale = [int(k) for k in keys if int(k) in self._known]
        if stale:
            self._dense.remove_ids(np.array(stale, dtype=np.int64))
        self._dense.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), keys)

    # ------------------------------------------------------------------ loading and saving
    def load(self) -> ThreadIndex:
        """Bring both indexes up to date with the store (cheap when nothing changed)."""
        with self._lock:
            self._generation = self.store.generation  # writes from now on are caught by `sync`
            self._check_encoder()
            gen = self._generation
            self._store_id = self.store.get_meta("store_id")
            self._dense = self._load_dense()
            self._load_bm25()
            self._load_lexical()
            self._forget_on_disk(gen)
            return self

    def forget_answers(self) -> None:
        """After answers were deleted: the saved word statistics, which count their words, are
        removed (a thread's keys do not change, so `sync` cannot see it); the next load counts them
        again, as it does after any write. Cheap: no recount of the store here. The statistics in
        memory still count them (a slightly stale score until a recount): never saved as they are."""
        with self._lock:
            self._lexical_stale = True
            try:
                (self.folder / LEXICAL).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("the word statistics beside %s could not be removed: %s", self.store.path, exc)

    def _forget_on_disk(self, gen: str | None = None) -> None:
        """A deleted thread leaves the index files at once, not at some later save: its vector and
        its words (BM25's vocabulary, the word statistics) stayed in `<store>.index/` after a
        deletion, the vectors for good. `gen`: the store's generation the index was brought to.
        Files that cannot be written (a read-only folder) are said, and the question goes on."""
        if self._forgot and not self.store.read_only:
            try:
                self.save()
            except (OSError, RuntimeError) as exc:
                log.warning("the thread index beside %s could not be rewritten after a deletion: %s",
                            self.store.path, exc)
            self._save_lexical(gen or self._generation or self.store.generation)
        self._forgot = False

    def _save_lexical(self, gen: str) -> None:
        if self._lexical_stale:  # they count deleted answers' words: the next load counts them again
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.lexical.save(self.folder / LEXICAL, gen)
        except OSError as exc:
            log.warning("the word statistics beside %s could not be rewritten: %s", self.store.path, exc)

    def _load_lexical(self) -> None:
        path = self.folder / LEXICAL
        gen = self.store.generation
        self._lexical_stale = False  # loaded or counted now
        if path.exists():
            try:
                stats, saved = LexicalStats.load(path)
                if saved == gen:
                    self.lexical = stats
                    return
            except (OSError, ValueError, KeyError):
                pass
        stats = _whole_thread_stats(self.store)
        self.lexical = stats
        if not self.store.read_only:
            self.folder.mkdir(parents=True, exist_ok=True)
            stats.save(path, gen)

    def _load_bm25(self) -> None:
        gen = self.store.generation
        folder = self.folder / BM25_DIR
        main = None
        if folder.exists():
            try:
                with self._files_lock():  # another process may be swapping a new one in
                    main = _BM25.load(folder)
            except (OSError, ValueError, KeyError, json.JSONDecodeError):
                main = None
            if main is not None and not self._same_store(main.store_id):
                main = None  # another store's keys: nothing of it can be reused
            if main is not None and main.generation == gen:
                self._set_bm25(main, {})
                return
        all_texts = dict(self.store.iter_texts())
        if main is not None:
            known = set(main.keys.tolist())
            new = {k: t for k, t in all_texts.items() if k not in known}
            gone = known - set(all_texts)
            if not gone and len(new) <= max(50, len(known) // 10):
                self._set_bm25(main, new)
                return
        main = _BM25().build(list(all_texts), list(all_texts.values()), gen)
        self._set_bm25(main, {})
        self.save()

    def _set_bm25(self, main: _BM25, delta: dict[int, str]) -> None:
        self._bm25_main = main
        self._delta = dict(delta)
        self._delta_tokens = dict(zip(self._delta, tokenize(list(self._delta.values())), strict=True))
        self._known = set(main.keys.tolist()) | set(self._delta)

    def save(self) -> None:
        """Write the dense index and the main BM25 atomically (a failed save keeps the old files)."""
        with self._lock:
            if self.store.read_only:
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._files_lock():  # a server and a command may save at once: one after the other
                self._save_files()

    def _files_lock(self) -> Any:
        return file_lock(self.folder.parent / f".{self.folder.name}.lock")

    def _save_files(self) -> None:
        import faiss

        # the store's key high-water mark when these files were written, whichever of them holds
        # the highest key (BM25 holds threads without vectors): a store restored from an earlier
        # backup has a lower one (`ThreadStore._behind_its_index`)
        meta = {"encoder": self.encoder.name, "store": self.store.get_meta("store_id"),
                "max_key": int(self.store.get_meta("max_key") or 0)}
        if self._dense is not None:
            atomic_write(self.folder / DENSE, lambda tmp: faiss.write_index(self._dense, str(tmp)))
        else:  # no vector in this store: a dense file left there is another store's, not to be vouched for
            (self.folder / DENSE).unlink(missing_ok=True)
        atomic_write_text(self.folder / DENSE_META, json.dumps(meta))
        if self._bm25_main is not None and not self._delta:
            self._bm25_main.save(self.folder / BM25_DIR, self._bm25_main.generation,
                                 self.store.get_meta("store_id"))

    @property
    def generation(self) -> str | None:
        """The store's generation the index last caught up with (None before it first loads)."""
        return self._generation

    def sync(self) -> bool:
        """Catch up with writes committed since the last load or sync, by this process or another;
        one read of the store's generation when there were none. Returns whether anything was read.
        It encodes nothing (the writer does): a thread stored without its vector yet is found by BM25
        until its vector is there."""
        with self._lock:
            if self._generation is None or self._bm25_main is None:
                self.load()
                return True
            gen = self.store.generation  # writes after this read are caught by the next sync
            if self.store.get_meta("store_id") != self._store_id:  # another store at this path, or one
                self.load()  # found older than this index (`ThreadStore._behind_its_index`): nothing reused
                return True
            if gen == self._generation:
                return False
            self._check_encoder()  # re-embedded with another encoder (`qa cqa embed --reset`): say so
            self._dense = self._reconcile_dense(self._dense, self.store.embedded_keys())
            keys = set(self.store.keys().tolist())
            if self._known - keys:  # deleted threads (an edited question is one, under a new key)
                self._rebuild_lexical()  # BM25 and the statistics cannot forget a document
                self._forgot = True
            else:
                new = sorted(keys - self._known)
                if new:
                    self._add_lexical(new, self.store.texts(new))
            self._generation = gen
            self._forget_on_disk(gen)
            return True

    def _rebuild_lexical(self) -> None:
        self._set_bm25(self._bm25_of_store(), {})
        self.lexical = _whole_thread_stats(self.store)
        self._lexical_stale = False

    def _bm25_of_store(self) -> _BM25:
        """A main BM25 index over every stored thread's question."""
        gen = self.store.generation
        all_texts = dict(self.store.iter_texts())
        return _BM25().build(list(all_texts), list(all_texts.values()), gen)

    def _add_lexical(self, keys: Sequence[int], texts: dict[int, str]) -> None:
        """Put threads into the BM25 delta (or rebuild the main index when the delta grows past a
        tenth of it) and into the whole-thread statistics."""
        assert self._bm25_main is not None
        for k in keys:
            self._delta[int(k)] = texts[int(k)]
        for _, tokens in self.store.iter_full_texts(tokenize, keys=list(keys)):
            self.lexical.add(tokens)
        if len(self._delta) > max(50, len(self._bm25_main.keys) // 10):
            self._set_bm25(self._bm25_of_store(), {})
        else:
            self._delta_tokens.update(zip(keys, tokenize([texts[int(k)] for k in keys]), strict=True))
        self._known |= {int(k) for k in keys}

    # ------------------------------------------------------------------ updates
    def add(self, keys: Sequence[int], texts: Sequence[str], vectors: np.ndarray | None = None) -> None:
        """Index threads just written to the store (encoding them unless `vectors` are given)."""
        with self._lock:
            if self._bm25_main is None:
                self.load()
            keys_arr = np.asarray(keys, dtype=np.int64)
            if vectors is None:
                vectors = np.asarray(self.encoder.encode(list(texts)), dtype=np.float32)
                self._check_encoder(record=True)  # vectors are written: the store learns whose they are
                self.store.set_vectors(keys_arr.tolist(), vectors)
            self._add_dense(keys_arr, vectors)
            self._add_lexical(keys_arr.tolist(), dict(zip(keys_arr.tolist(), texts, strict=True)))

    # ------------------------------------------------------------------ search
    def __len__(self) -> int:
        return int(self._dense.ntotal) if self._dense is not None else 0

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self._lock:  # FAISS must not be searched while another thread adds to it
            if self._dense is None or self._dense.ntotal == 0:
                return []
            q = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
            if q.shape[1] != self._dense.d:
                raise DataFormatError(f"query vectors have {q.shape[1]} dimensions; the thread index has "
                                      f"{self._dense.d}")
            scores, ids = self._dense.search(q, min(k, int(self._dense.ntotal)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_scores(self, tokens: Sequence[str], keys: Sequence[int]) -> dict[int, float]:
        """BM25 of given threads (0 for threads sharing no term with the query)."""
        all_scores = self._bm25_all(tokens)
        return {int(k): all_scores.get(int(k), 0.0) for k in keys}

    def _bm25_all(self, tokens: Sequence[str]) -> dict[int, float]:
        out: dict[int, float] = {}
        with self._lock:
            main, delta = self._bm25_main, dict(self._delta_tokens)
        if main is not None and len(main.keys):
            s = main.scores(tokens)
            nz = np.nonzero(s > 0)[0]
            out.update({int(main.keys[i]): float(s[i]) for i in nz})
        if delta:
            out.update(_delta_scores(tokens, main, delta))
        return out

    def bm25_search(self, tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        scores = self._bm25_all(tokens)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]

    def vectors(self, keys: Sequence[int]) -> np.ndarray:
        """The stored vectors of indexed threads (rows of zeros for unknown keys)."""
        with self._lock:
            out = np.zeros((len(keys), self._dense.d if self._dense is not None else 0), dtype=np.float32)
            if self._dense is None:  # nothing embedded yet (a store filled without vectors)
                return out
            for row, k in enumerate(keys):
                try:
                    out[row] = self._dense.reconstruct(int(k))
                except RuntimeError:
                    pass
        return out
