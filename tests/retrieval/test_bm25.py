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
