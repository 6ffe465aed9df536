from pathlib import Path

from retrieval.bm25 import BM25Index, tokenize


def test_stemming_and_stopwords() -> None:
    assert tokenize(["The cats are running"]) == [["cat", "run"]]


def test_search_save_load(tmp_path: Path) -> None:
    idx = BM25Index().build(
        [10, 20, 30],
        ["The cat sat on the mat.", "Dogs are running in the park.", "Quantum chromodynamics of gluons."],
    )
    hits = idx.search("running dogs", 3)
    assert hits[0][0] == 20 and all(s > 0 for _, s in hits)
    assert idx.search("zzzz unknownword", 3) == []
    idx.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert loaded.search("gluons", 1)[0][0] == 30
    # saving again over an existing folder swaps atomically and leaves no staging folders
    BM25Index().build([1], ["only gluons here"]).save(tmp_path / "bm25")
    assert [doc for doc, _ in BM25Index.load(tmp_path / "bm25").search("gluons", 5)] == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]


def test_several_indexes_score_as_one_collection() -> None:
    """Pooled, each collection weighed a term by its own counts: "budget" in 1 of 3 notes weighed
    far less than in 1 of 60 articles, so the note that answered ranked under articles that barely
    matched. Scored together, two halves of a collection give the scores of the whole (same
    document lengths here, so only the term weights differ)."""
    import numpy as np

    from retrieval.bm25 import BM25Index

    notes = ["budget approved henrietta olsen", "coffee machine repaired dmitri", "release monday falcon ship"]
    articles = [f"history place{i} people town{i}" for i in range(57)]  # four words a document, as above
    articles += ["national budget debate parliament", "river city bridge harbour", "film budget large studio"]
    whole = BM25Index().build(range(len(notes) + len(articles)), notes + articles)
    a, b = BM25Index().build(range(3), notes), BM25Index().build(range(3, 63), articles)
    query = "who approved the budget"
    together = BM25Index.search_together([a, b], query, 5)
    expected = dict(whole.search(query, 63))
    for found in together:
        for key, score in found:
            assert np.isclose(score, expected[key], rtol=1e-4), key
    assert together[0][0][0] == 0 and together[0][0][1] > max(s for _, s in together[1])
    assert a.search(query, 1)[0][1] < max(s for _, s in b.search(query, 5))  # alone, the note scored lower
    assert BM25Index.search_together([a], query, 3) == [a.search(query, 3)]
    twice = "budget budget approved"  # a word the query says twice counts twice, as in one collection
    assert np.isclose(BM25Index.search_together([a, b], twice, 1)[0][0][1], whole.search(twice, 1)[0][1], rtol=1e-4)
    assert BM25Index.search_together([a, BM25Index().build([], [])], "zzz unknown", 3) == [[], []]
