import pytest

from retrieval.fusion import convex, fuse, rrf


def test_plain_rrf_by_hand() -> None:
    out = dict(rrf({"a": [1, 2, 3], "b": [3, 1]}, k=60))
    assert out[1] == pytest.approx(1 / 61 + 1 / 62)
    assert out[2] == pytest.approx(1 / 62)
    assert out[3] == pytest.approx(1 / 63 + 1 / 61)
    assert [d for d, _ in rrf({"a": [1, 2, 3], "b": [3, 1]}, k=60)] == [1, 3, 2]


def test_weighted_rrf_and_k() -> None:
    ranked = rrf({"dense": [1, 2], "bm25": [2, 1]}, weights={"dense": 1.0, "bm25": 2.0}, k=0)
    # doc 2: 1/2 + 2/1 = 2.5 ; doc 1: 1/1 + 2/2 = 2.0
    assert ranked == [(2, pytest.approx(2.5)), (1, pytest.approx(2.0))]


def test_rrf_ties_are_deterministic() -> None:
    assert [d for d, _ in rrf({"a": [5, 4], "b": [4, 5]})] == [4, 5]


def test_convex_minmax() -> None:
    out = dict(
        convex(
            {"dense": [(1, 0.9), (2, 0.5), (3, 0.1)], "bm25": [(3, 10.0), (1, 5.0)]},
            weights={"dense": 0.4, "bm25": 0.6},
        )
    )
    assert out[1] == pytest.approx(0.4 * 1.0 + 0.6 * 0.0)
    assert out[2] == pytest.approx(0.4 * 0.5)
    assert out[3] == pytest.approx(0.4 * 0.0 + 0.6 * 1.0)


def test_fuse_dispatch() -> None:
    scored = {"dense": [(1, 0.9)], "bm25": [(2, 3.0)]}
    assert {d for d, _ in fuse(scored, "rrf")} == {1, 2}
    with pytest.raises(ValueError):
        fuse(scored, "nope")
