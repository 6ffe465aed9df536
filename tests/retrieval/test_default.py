import pytest

from retrieval.default import SHIPPED_INDEX, default_passages
from retrieval.index_dir import Manifest, is_complete


def test_default_passages_come_from_the_package() -> None:
    passages = list(default_passages())
    assert len(passages) > 10_000
    assert len({p.id for p in passages}) == len(passages)
    assert all(p.text and p.title and len(p.text) <= 1200 for p in passages)


@pytest.mark.skipif(not is_complete(SHIPPED_INDEX), reason="no prebuilt default index in data/index/default")
def test_shipped_default_index_answers() -> None:
    from qa.settings import Settings
    from retrieval.hybrid import HybridRetriever

    manifest = Manifest.load(SHIPPED_INDEX)
    assert manifest.count == len(list(default_passages())) and manifest.dims == 384
    r = HybridRetriever.from_index_dir(SHIPPED_INDEX, Settings())
    hits = r.search("What is the capital of France?", 5)
    assert any(h.title in {"Paris", "France"} for h in hits)
    r.close()
