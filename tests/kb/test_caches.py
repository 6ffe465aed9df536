"""KBQA's caches stop growing: a server answering for weeks keeps the vectors and relation paths of
recent questions only, and a question whose new texts are being encoded does not hold up another
question's lookups."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from kb.encoder import CachedEncoder
from qa.core.lru import BoundedCache
from qa.models import shared_encoder
from tests.kb.conftest import make_qa


class Counting:
    """The real encoder, counting the texts it is asked to encode (and able to hold one back)."""

    def __init__(self, hold: str | None = None) -> None:
        self.inner = shared_encoder()
        self.name = "counting"
        self.encoded: list[str] = []
        self.hold = hold
        self.entered = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.hold in texts:
            self.entered.set()
            assert self.release.wait(30), "the held encoding was never released"
        self.encoded.extend(texts)
        return self.inner.encode(list(texts))


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
    with pytest.raises(ValueError, match="at least one entry"):
        BoundedCache(0)


def test_a_weighed_cache_keeps_its_total_weight_under_the_bound() -> None:
    cache: BoundedCache[str, list[int]] = BoundedCache(100, weight=len, max_weight=5)
    cache.put("three", [1, 2, 3])
    cache.put("two", [1, 2])
    assert cache.total_weight == 5 and len(cache) == 2
    cache.put("one", [1])  # six in all: the oldest goes
    assert "three" not in cache and cache.total_weight == 3
    cache.put("two", [1, 2, 3, 4])  # replaced, not counted twice
    assert cache.total_weight == 5 and cache.get("two") == [1, 2, 3, 4]
    cache.put("huge", list(range(6)))  # heavier than the whole bound: not kept, nothing else lost
    assert "huge" not in cache and cache.total_weight == 5
    cache.put("empty", [])
    assert cache.get("empty") == [] and len(cache) == 3


def test_the_encoder_cache_keeps_the_recent_texts_and_encodes_an_evicted_one_again() -> None:
    enc = Counting()
    cached = CachedEncoder(enc, max_texts=3)
    texts = ["capital", "currency", "continent", "population", "country"]
    vecs = cached.vectors(texts)  # more new texts than the cache holds: all are still returned
    assert vecs.shape == (5, 384) and len(cached._cache) == 3
    assert np.allclose(vecs, CachedEncoder(shared_encoder()).vectors(texts), atol=1e-6)
    enc.encoded.clear()
    cached.vectors(["country"])  # one of the three kept
    assert enc.encoded == []
    again = cached.vectors(["capital"])  # forgotten: encoded again, the same vector
    assert enc.encoded == ["capital"] and np.allclose(again[0], vecs[0], atol=1e-6)


def test_a_cached_lookup_does_not_wait_for_another_questions_encoding() -> None:
    enc = Counting(hold="a text that takes long to encode")
    cached = CachedEncoder(enc)
    known = cached.vectors(["capital"])[0]
    slow = threading.Thread(target=cached.vectors, args=(["a text that takes long to encode"],))
    slow.start()
    try:
        assert enc.entered.wait(30)
        done: list[np.ndarray] = []
        fast = threading.Thread(target=lambda: done.append(cached.vectors(["capital"])[0]))
        fast.start()
        fast.join(10)
        assert done and np.allclose(done[0], known), "a cached text waited for another text's encoding"
    finally:
        enc.release.set()
        slow.join(30)
    assert len(cached._cache) == 2


def test_relation_paths_are_kept_for_a_bounded_number_of_entities(small_graph, monkeypatch) -> None:
    import kb.pipeline

    monkeypatch.setattr(kb.pipeline, "MAX_CACHED_ANCHORS", 2)
    monkeypatch.setattr(kb.pipeline, "MAX_CACHED_PATHS", 10_000)
    qa = make_qa(small_graph)
    questions = ["What is the capital of France?", "What is the capital of Germany?",
                 "What is the capital of Japan?", "What is the capital of France?"]
    answers = [qa.answer(q)[0].text for q in questions]
    assert answers == ["Paris", "Berlin", "Tokyo", "Paris"]
    assert len(qa._paths) <= 2
    monkeypatch.setattr(kb.pipeline, "MAX_CACHED_PATHS", 1)  # no entity's paths fit: none kept, all still found
    few = make_qa(small_graph)
    assert [few.answer(q)[0].text for q in questions] == answers
    assert few._paths.total_weight <= 1


def test_a_graph_edited_with_its_size_and_time_stamp_kept_is_read_anew(tmp_path) -> None:
    """`sed -i` renaming "Mats Persson" to "Nils Ekstrom" (same length), then `touch -r` from a `cp -p`
    copy: the hash was remembered by path, size and modification time, so the old names answered."""
    import os

    from kb.artefacts import file_hash

    graph = tmp_path / "g.ttl"
    graph.write_text('<http://x/p1> <http://www.w3.org/2000/01/rdf-schema#label> "Mats Persson" .\n')
    before, st = file_hash(graph), graph.stat()
    edited = tmp_path / "edited.ttl"
    edited.write_text(graph.read_text().replace("Mats Persson", "Nils Ekstrom"))
    os.replace(edited, graph)  # as sed -i does: a new file under the old name
    os.utime(graph, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert graph.stat().st_size == st.st_size and graph.stat().st_mtime_ns == st.st_mtime_ns
    assert file_hash(graph) != before


def test_an_edited_graphs_earlier_label_index_is_removed_and_its_scorer_kept(tmp_path, monkeypatch) -> None:
    """The label index of a graph's earlier content stayed in the cache for good, with the names the
    edit took out (a person's data deleted from the graph, still on disk)."""
    from kb.artefacts import LABELS, SCORER, file_hash
    from qa.core.paths import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    graph, twin = tmp_path / "people.ttl", tmp_path / "copy.ttl"
    graph.write_text('<http://x/p1> <http://www.w3.org/2000/01/rdf-schema#label> "Ivo Brannock" .\n')
    twin.write_text(graph.read_text())
    old = file_hash(graph)[:32]
    folder = cache_dir() / "kb" / old
    folder.mkdir(parents=True)
    (folder / LABELS).write_bytes(b"Ivo Brannock")
    (folder / SCORER).write_text("{}")
    assert file_hash(twin)[:32] == old  # another file with that content
    graph.write_text('<http://x/p2> <http://www.w3.org/2000/01/rdf-schema#label> "Someone Else" .\n')
    file_hash(graph)
    assert (folder / LABELS).exists()  # the copy still has that content: its index stays
    twin.write_text("")
    file_hash(twin)
    assert not (folder / LABELS).exists() and (folder / SCORER).exists()
