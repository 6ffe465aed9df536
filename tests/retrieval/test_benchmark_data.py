"""The benchmark loaders read the shared data as documented (skipped where ../shared/data is absent)."""

import pytest

from tests.retrieval.conftest import SHARED

pytestmark = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")


def test_squad_dev_collection() -> None:
    from benchmarks.squad_open import DEV, load_squad

    passages, questions = load_squad(SHARED / DEV)
    assert len(passages) == 2067 and len(questions) == 10570
    ids = {p.id for p in passages}
    assert all(gold in ids for _, gold in questions)


def test_wikiqa_collections() -> None:
    from benchmarks.wikiqa import answerable_questions, build_collection, read_rows

    rows = read_rows()
    assert len(rows) == 29258
    assert len(build_collection(rows, "sentence")) == 26270
    assert len(build_collection(rows, "paragraph")) == 2811
    assert len(answerable_questions(rows, "sentence")) == 243
