from pathlib import Path

import pytest

from qa.core.errors import InputError
from qa.core.settings import Settings
from retrieval.hybrid import HybridRetriever


@pytest.fixture(scope="module")
def retriever(built_index: Path, settings: Settings) -> HybridRetriever:
    return HybridRetriever.from_index_dir(built_index, settings)


def test_search_returns_ranked_passages_with_ranks(retriever: HybridRetriever) -> None:
    hits = retriever.search("When was the Eiffel Tower completed?", 3)
    assert hits[0].title == "Eiffel Tower" and "1889" in hits[0].text
    assert hits[0].ranks == {"dense": 1, "bm25": 1}
    assert set(hits[0].scores) == {"dense", "bm25"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_single_retriever_modes(retriever: HybridRetriever, mode: str) -> None:
    hits = retriever.search("Who created the Python programming language?", 2, mode=mode)
    assert hits[0].title == "python"


def test_batch_matches_single(retriever: HybridRetriever) -> None:
    qs = ["largest city in Switzerland", "how long does the moon take to orbit"]
    batch = retriever.search_batch(qs, 2)
    assert [b[0].id for b in batch] == [retriever.search(q, 2)[0].id for q in qs]


def test_empty_query_and_missing_folder(retriever: HybridRetriever, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        retriever.search("   ")
    with pytest.raises(InputError, match="not an index folder"):
        HybridRetriever.from_index_dir(tmp_path)


def test_retrieve_k_is_how_many_candidates_each_retriever_proposes(built_index: Path, settings: Settings) -> None:
    """`QA_RETRIEVE_K` was documented as the candidates each retriever proposes and read by
    nothing a question passes through (1, 20 and 200 gave the same answers); the depth was 100."""
    from retrieval.collections import Collection, CollectionSet

    assert HybridRetriever.from_index_dir(built_index, settings).depth == settings.retrieve_k == 100
    narrow = settings.model_copy(update={"retrieve_k": 1})
    cands = HybridRetriever.from_index_dir(built_index, narrow).candidates("When was the Eiffel Tower completed?")
    assert [len(v) for v in cands.values()] == [1, 1]
    assert CollectionSet([Collection("c", built_index)], narrow).depth == 1
