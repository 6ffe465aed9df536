"""The calibration benchmark's measures (one copy in the core, shared by sources and benchmarks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa.core.measures import accuracy_at_coverage, auroc, ece, ece_chance_within, ece_if_calibrated, ece_p_value


def test_ece_bins_and_edges() -> None:
    assert ece([], []) == 0.0
    assert ece([0.9, 0.9, 0.1, 0.1], [True, True, False, False]) == pytest.approx(0.1)
    assert ece([1.0, 0.0], [True, False]) == 0.0  # 1.0 falls in the last bin, not past it
    assert ece([1.5, -0.2], [True, False]) == 0.0  # clipped to a probability


def test_auroc_ties_and_one_class() -> None:
    assert auroc([0.9, 0.8, 0.2], [True, False, False]) == 1.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert math.isnan(auroc([0.3, 0.4], [True, True]))


def test_accuracy_at_coverage_answers_the_most_confident_first() -> None:
    scores, right = [0.9, 0.8, 0.3, 0.1], [True, True, False, True]
    assert accuracy_at_coverage(scores, right, 0.5) == 100.0
    assert accuracy_at_coverage(scores, right, 1.0) == 75.0


def test_ece_of_a_perfect_score_shrinks_with_more_questions() -> None:
    """A calibrated score still shows an ECE by chance on few questions: the figure a measured
    ECE is read against. It falls roughly as one over the square root of the count."""
    rng = np.random.default_rng(1)
    few, many = rng.random(50).tolist(), rng.random(5000).tolist()
    small_sample, large_sample = ece_if_calibrated(few, draws=200), ece_if_calibrated(many, draws=50)
    assert 0.10 < small_sample < 0.25
    assert large_sample < 0.03
    assert ece_if_calibrated(few, draws=200) == small_sample  # seeded: the same figure each run
    assert ece_if_calibrated([]) == 0.0
    # a score that knows the outcome (0 or 1) has nothing left to chance
    assert ece_if_calibrated([0.0, 1.0, 1.0]) == 0.0


def test_ece_p_value_tells_chance_from_miscalibration() -> None:
    """Outcomes drawn from the scores themselves look calibrated (a p-value far from 0); the same
    scores with every outcome flipped do not, and on thousands of questions even a small bias is
    found."""
    rng = np.random.default_rng(2)
    scores = rng.random(50)
    honest = (rng.random(50) < scores).tolist()
    assert ece_p_value(scores.tolist(), honest, draws=300) > 0.05
    assert ece_p_value(scores.tolist(), [not c for c in honest], draws=300) < 0.01
    many = rng.uniform(0.2, 0.8, 4000)
    biased = (rng.random(4000) < many + 0.1).tolist()  # right 10 points more often than said
    assert ece_p_value(many.tolist(), biased, draws=200) < 0.01
    assert ece_p_value([], []) == 1.0
    assert 0 < ece_p_value([0.9] * 20, [False] * 20, draws=50) == 1 / 51  # never exactly 0
    with pytest.raises(ValueError, match="3 scores for 2 outcomes"):
        ece_p_value([0.1, 0.2, 0.3], [True, False])


def test_ece_chance_within_says_whether_a_target_can_be_met() -> None:
    """Fifty scores spread over the middle of the scale: a perfectly calibrated score almost never
    shows an ECE of 0.05 there (the outcomes of so few questions scatter every bin), while a score
    that is nearly sure of each outcome, or thousands of questions, meets it."""
    rng = np.random.default_rng(3)
    spread = rng.uniform(0.2, 0.8, 50).tolist()
    assert ece_chance_within(spread, 0.05, draws=300) < 0.02
    sharp = ([0.02] * 25) + ([0.98] * 25)
    assert ece_chance_within(sharp, 0.05, draws=300) > 0.9
    assert ece_chance_within(rng.uniform(0.2, 0.8, 5000).tolist(), 0.05, draws=50) == 1.0
    assert ece_chance_within([], 0.05) == 1.0
    assert ece_chance_within(spread, 1.0, draws=10) == 1.0


def test_outcomes_must_pair_with_scores_and_auroc_takes_right_or_wrong() -> None:
    """`ece` with fewer outcomes than scores failed with a bare IndexError; `auroc` read a soft
    label of 0.0001 as right, where its docstring took soft labels."""
    import pytest

    from qa.core.measures import auroc, ece

    with pytest.raises(ValueError, match="3 scores for 2 outcomes"):
        ece([0.9, 0.1, 0.5], [1, 0])
    with pytest.raises(ValueError, match="soft labels"):
        auroc([0.9, 0.05, 0.1], [1, 0.0001, 0])
    assert auroc([0.9, 0.05, 0.1], [True, False, False]) == 1.0
    assert ece([0.8, 0.8], [0.5, 1.0]) == pytest.approx(0.05)  # a soft label: still an outcome ECE takes
