"""Metrics pinned against hand-computed cases of the official SQuAD v1.1 / v2.0 definitions."""

from __future__ import annotations

import pytest

from mrc.metrics import (
    f1_v1,
    f1_v2,
    normalize_answer,
    race_accuracy,
    squad_em,
    squad_f1,
    squad_v1_evaluate,
    squad_v2_evaluate,
)


def _data(*qas: tuple[str, list[str]]) -> list[dict]:
    return [
        {
            "title": "t",
            "paragraphs": [
                {
                    "context": "c",
                    "qas": [{"id": i, "question": "q", "answers": [{"text": a} for a in g]} for i, g in qas],
                }
            ],
        }
    ]


def test_normalize_answer() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear & the fig.") == "apple pear fig"
    assert normalize_answer("Theatre") == "theatre"  # articles only as whole words
    assert normalize_answer("  A\tB\nC ") == "b c"  # "a" is an article


def test_v1_em_f1_hand_computed() -> None:
    assert squad_em("the Denver Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    # pred tokens [denver, broncos, team], gold [broncos]: P = 1/3, R = 1 -> F1 = 0.5
    assert squad_f1("Denver Broncos team", ["Broncos"]) == pytest.approx(0.5)
    # max over golds: vs "Denver Broncos" P = 2/3, R = 1 -> 0.8
    assert squad_f1("Denver Broncos team", ["Broncos", "Denver Broncos"]) == pytest.approx(0.8)
    # repeated tokens count with multiplicity: common = {a1: 1}, P = 1/2, R = 1/1 -> 2/3
    assert f1_v1("x x", "x") == pytest.approx(2 / 3)
    assert f1_v1("", "") == 0.0  # the v1.1 script has no empty special case
    assert squad_em("anything", []) == 0.0


def test_v1_evaluate_counts_missing_as_zero() -> None:
    data = _data(("q1", ["Paris"]), ("q2", ["blue sky", "sky"]), ("q3", ["42"]))
    out = squad_v1_evaluate(data, {"q1": "paris", "q2": "the blue"})
    # EM: 1 + 0 + 0 over 3; F1: 1 + (P=1, R=1/2 -> 2/3) + 0 over 3
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)
    assert out["total"] == 3 and out["missing"] == 1


def test_v2_f1_empty_rules() -> None:
    assert f1_v2("", "") == 1.0
    assert f1_v2("", "something") == 0.0
    assert f1_v2("the", "") == 1.0  # gold normalises to nothing, like the empty answer


def test_v2_evaluate_hasans_noans_and_best_threshold() -> None:
    data = _data(("h1", ["Paris"]), ("h2", ["red car"]), ("n1", []), ("n2", []))
    preds = {"h1": "Paris", "h2": "car", "n1": "", "n2": "London"}
    na = {"h1": 0.1, "h2": 0.4, "n1": 0.9, "n2": 0.3}
    out = squad_v2_evaluate(data, preds, na)
    # raw: exact h1 1, h2 0, n1 1, n2 0; f1 h1 1, h2 2/3 (P=1, R=1/2), n1 1, n2 0
    assert out["exact"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)
    assert out["HasAns_exact"] == pytest.approx(50.0) and out["HasAns_f1"] == pytest.approx(100 * (5 / 3) / 2)
    assert out["NoAns_exact"] == pytest.approx(50.0) and out["NoAns_f1"] == pytest.approx(50.0)
    assert out["total"] == 4 and out["HasAns_total"] == 2 and out["NoAns_total"] == 2
    # Sweep by na_prob: start 2 (answer nothing); h1 +1 -> 3 @0.1; n2 -1 -> 2; h2 +0 (exact) -> 2; n1 0.
    assert out["best_exact"] == pytest.approx(75.0) and out["best_exact_thresh"] == pytest.approx(0.1)
    # F1 sweep: 2 -> h1 3 @0.1 -> n2 2 -> h2 2 + 2/3 -> n1 same: best 3 @0.1
    assert out["best_f1"] == pytest.approx(75.0) and out["best_f1_thresh"] == pytest.approx(0.1)


def test_v2_threshold_turns_predictions_into_no_answer() -> None:
    data = _data(("h1", ["Paris"]), ("n1", []))
    preds = {"h1": "Paris", "n1": "Rome"}
    out = squad_v2_evaluate(data, preds, {"h1": 0.2, "n1": 0.8}, na_prob_thresh=0.5)
    assert out["exact"] == pytest.approx(100.0)  # n1 counted as a correct abstention
    no_probs = squad_v2_evaluate(data, preds)
    assert no_probs["exact"] == pytest.approx(50.0) and "best_f1" not in no_probs


def test_race_accuracy() -> None:
    golds = {"a": 0, "b": 1, "c": 2, "d": 3}
    levels = {"a": "middle", "b": "middle", "c": "high", "d": "high"}
    out = race_accuracy({"a": 0, "b": 2, "c": 2}, golds, levels)  # d missing -> wrong
    assert out["middle"] == 50.0 and out["high"] == 50.0 and out["all"] == 50.0
    assert out["all_total"] == 4 and out["high_total"] == 2
    middle_only = race_accuracy({"a": 0}, {"a": 0}, {"a": "middle"})
    assert middle_only["high"] is None and middle_only["high_total"] == 0  # not "0 % right"


def test_fit_temperature_recovers_a_known_scale() -> None:
    import numpy as np

    from mrc.calibration import fit_temperature

    rng = np.random.default_rng(0)
    margins = rng.normal(0.0, 8.0, 20_000)
    correct = rng.random(20_000) < 1 / (1 + np.exp(-margins / 4.0))
    assert fit_temperature(margins, correct) == pytest.approx(4.0, rel=0.1)
    with pytest.raises(ValueError):
        fit_temperature([], [])
