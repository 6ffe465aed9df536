"""The re-scorer's calibration: questions no stored thread answers take part in it, so an
unrelated question's best match gets a probability near zero rather than a typical match's."""

from __future__ import annotations

import numpy as np

from cqa.features import MATCH_FEATURES
from cqa.training import fit_calibrated, off_topic_questions


def _rows(rng: np.random.Generator, n_questions: int, related: bool, first: int = 0):
    """Like the real features: within a question the z-scores say which candidates are good, the
    raw similarity says only a little; an unrelated question's candidates look like a related
    question's in z-scores and differ in raw similarity."""
    rows, labels, groups = [], [], []
    for q in range(n_questions):
        for k in range(5):
            top = k < 2
            good = related and top and rng.random() < 0.7
            d = (0.5 if top else 0.42) - (0.0 if related else 0.3) + rng.normal(0, 0.05)
            z = (0.9 if top else -0.6) + rng.normal(0, 0.4)
            rows.append({"d_text": d, "d_max": d + 0.1, "d_text_z": z, "bm25_z": z + rng.normal(0, 0.5),
                         "bma_z": z + rng.normal(0, 0.5)})
            labels.append(good)
            groups.append(first + q)
    return rows, labels, groups


def test_unanswerable_calibration_questions_pull_unrelated_matches_down() -> None:
    rng = np.random.default_rng(0)
    rows, labels, groups = _rows(rng, 60, related=True)
    off_rows, off_labels, off_groups = _rows(rng, 60, related=False, first=60)

    class Cal:  # PairRows-like: the training questions plus questions no thread answers
        pass

    cal = Cal()
    cal.rows, cal.labels, cal.groups = rows + off_rows, labels + off_labels, groups + off_groups
    plain = fit_calibrated(MATCH_FEATURES, rows, labels, groups, 3.0, {}, grouped=True)
    mixed = fit_calibrated(MATCH_FEATURES, rows, labels, groups, 3.0, {}, cal=cal, grouped=True)  # type: ignore[arg-type]
    unrelated = off_rows[:5]
    assert mixed.probabilities(unrelated, group=True).max() < 0.8 * plain.probabilities(unrelated, group=True).max()
    assert mixed.meta["calibration_questions_unanswerable"] == 60
    # the weights (and so every ranking) come from the labelled pairs alone
    assert mixed.weights == plain.weights


def test_off_topic_questions_are_a_fixed_sample_or_nothing(tmp_path) -> None:
    assert off_topic_questions(path=tmp_path / "absent.json.xz") == []
    a, b = off_topic_questions(20), off_topic_questions(20)
    if a:  # the shared data is present
        assert a == b and len(set(a)) == 20


def test_repeated_threads_share_a_component_and_never_straddle_a_fold() -> None:
    from cqa.training import AnswerRows, answer_splits, content_components

    threads = [
        ("Visa for my wife", "How long does the family visa take these days in Doha?", ["About two weeks."]),
        ("visa for my WIFE!", "", []),  # the same title, written again
        ("Best bank", "Which bank gives the best rate for a salary account?", ["Commercial Bank is good enough."]),
        ("Salary account", "Any ideas?", ["commercial bank is good enough"]),  # a pasted answer links it
        ("Driving school", "Where can I learn to drive?", ["Al Khebra."]),
    ]
    comp = content_components(threads)
    assert comp[0] == comp[1] and comp[2] == comp[3] and len({comp[0], comp[2], comp[4]}) == 3
    ans = AnswerRows(rows=[{}] * 5, labels=[True, False, True, False, True], groups=[0, 1, 2, 3, 4],
                     questions=[0, 1, 2, 3, 4], contents=comp)
    for held, train in answer_splits(ans):
        held_c = {comp[i] for i in np.where(held)[0]}
        assert not any(comp[i] in held_c for i in np.where(train)[0])


def test_the_cached_store_of_a_semeval_file_follows_its_content(tmp_path, monkeypatch) -> None:
    """The cache was found by file name alone: another file so named, or an edited one, trained
    on the threads of the first (or failed with "no thread ... in the store")."""
    from cqa.training import semeval_store_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    a, b = tmp_path / "a" / "mini.xml", tmp_path / "b" / "mini.xml"
    for path, text in ((a, "<xml>one</xml>"), (b, "<xml>two</xml>")):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    assert semeval_store_path(a) != semeval_store_path(b)
    assert semeval_store_path(a).name.startswith("mini-") and semeval_store_path(a) == semeval_store_path(a)
