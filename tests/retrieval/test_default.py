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
    from qa.core.settings import Settings
    from retrieval.hybrid import HybridRetriever

    manifest = Manifest.load(SHIPPED_INDEX)
    assert manifest.count == len(list(default_passages())) and manifest.dims == 384
    r = HybridRetriever.from_index_dir(SHIPPED_INDEX, Settings())
    hits = r.search("What is the capital of France?", 5)
    assert any(h.title in {"Paris", "France"} for h in hits)
    r.close()


def _tiny_default(*_args: object, **_kw: object):
    from retrieval.passage import Passage

    yield Passage("wiki:Paris#0", "Paris is the capital of France.", "Paris", "test")
    yield Passage("wiki:Berlin#0", "Berlin is the capital of Germany.", "Berlin", "test")


def test_default_index_builds_into_cache_when_not_shipped(tmp_path, monkeypatch) -> None:
    import retrieval.default as default
    from qa.core.settings import Settings

    monkeypatch.setattr(default, "SHIPPED_INDEX", tmp_path / "absent")
    monkeypatch.setattr(default, "default_passages", _tiny_default)
    settings = Settings(index_dir=str(tmp_path / "cache"))
    folder = default.default_index(settings, progress=False)
    assert folder == tmp_path / "cache" / "default" and is_complete(folder)
    assert Manifest.load(folder).dense_kind == "fp16"
    assert default.default_index(settings) == folder  # second call reuses it


def test_qa_index_default_rebuilds(tmp_path, monkeypatch) -> None:
    import retrieval.default as default
    from qa.cli import main

    monkeypatch.setattr(default, "default_passages", _tiny_default)
    assert main(["index", "--default", "--out", str(tmp_path / "d")]) == 0
    assert Manifest.load(tmp_path / "d").count == 2
    assert main(["index", str(tmp_path), "--default"]) == 2
