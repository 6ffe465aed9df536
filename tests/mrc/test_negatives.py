"""The unanswerable questions the span reader learns "no answer" from (`mrc.negatives`)."""

from __future__ import annotations

import random

import pytest

from mrc.negatives import ADVERSARIAL_MIX, NegativeKind, NegativeMix, antonym_negative, kind_of, make_negatives
from mrc.train_span import SpanExample

PARA = ("The Eiffel Tower was finished in 1889 for the World's Fair in Paris. It was designed by the company of "
        "Gustave Eiffel, and Maurice Koechlin drew its first sketch in June 1884. Critics such as Guy de "
        "Maupassant disliked it at first. It was the tallest structure in the world until 1930, when the "
        "Chrysler Building in New York was finished. Today about 7 million people visit it every year.")


def _ex(question: str, answer: str, qid: str = "q", article: int = 0, context: str = PARA) -> SpanExample:
    return SpanExample(qid, question, context, context.index(answer), answer, article)


def test_a_swap_replaces_a_name_or_number_by_another_of_its_kind_from_the_paragraph() -> None:
    ex = _ex("Who drew the first sketch of the tower in 1884?", "Maurice Koechlin")
    mix = NegativeMix(swap=1.0, other_paragraph=0.0)
    seen = set()
    for seed in range(30):
        (neg,) = make_negatives([ex], mix, random.Random(seed))
        assert neg.answer_start == -1 and neg.context == PARA and kind_of(neg.qid) is NegativeKind.SWAP
        assert neg.question != ex.question and "Maurice Koechlin" not in neg.question
        seen.add(neg.question)
    # the year is swapped for another year of the paragraph, never for a name or a number
    assert seen == {f"Who drew the first sketch of the tower in {year}?" for year in (1889, 1930)}
    # "June 1884" is a date, and the paragraph holds no other: nothing to swap
    assert make_negatives([_ex("Who drew a sketch in June 1884?", "Maurice Koechlin")], mix, random.Random(0)) == []


def test_antonyms_and_negations_keep_the_question_readable() -> None:
    rng = random.Random(0)
    assert antonym_negative(_ex("What was the first structure taller than the tower?", "Chrysler Building"),
                            rng) == "What was the last structure taller than the tower?"
    assert antonym_negative(_ex("When did Maupassant dislike the tower?", "at first"),
                            rng) == "When did Maupassant not dislike the tower?"
    assert antonym_negative(_ex("When did the critics dislike it?", "at first"),
                            rng) == "When did the critics not dislike it?"
    assert antonym_negative(_ex("What was finished in 1889?", "The Eiffel Tower"),
                            rng) == "What was not finished in 1889?"
    assert antonym_negative(_ex("Who visits it?", "7 million people"), rng) is None


def test_the_mix_is_deterministic_and_skips_unanswerable_and_answer_words() -> None:
    other = "A second paragraph of the same article, about the restaurants on its platforms, and nothing else."
    exs = [_ex("Who designed the Eiffel Tower in Paris?", "Gustave Eiffel", "a"),
           _ex("How many people visit it every year?", "7 million", "b"),
           SpanExample("c", "Which building was finished in 1930?", other, -1, "", 0),
           SpanExample("d", "What is on the platforms?", other, other.index("restaurants"), "restaurants", 0)]
    one = make_negatives(exs, ADVERSARIAL_MIX, random.Random(3))
    assert one == make_negatives(exs, ADVERSARIAL_MIX, random.Random(3))
    assert all(n.answer_start == -1 and not n.qid.startswith("c-") for n in one)
    everything = make_negatives(exs, NegativeMix(swap=1, antonym=1, answer_removed=1, other_paragraph=1),
                                random.Random(0))
    kinds = {kind_of(n.qid) for n in everything}
    assert NegativeKind.OTHER_PARAGRAPH in kinds and NegativeKind.ANSWER_REMOVED in kinds
    for n in everything:
        if kind_of(n.qid) is NegativeKind.OTHER_PARAGRAPH:
            assert n.context == other if n.qid.startswith(("a-", "b-")) else n.context == PARA
        if kind_of(n.qid) is NegativeKind.ANSWER_REMOVED:
            assert "7 million" not in n.context or n.qid.startswith("a-")
    with pytest.raises(ValueError, match="swap must lie between 0 and 1"):
        NegativeMix(swap=1.5)


def test_auto_device_resolves_to_a_real_device() -> None:
    """`qa train calibrate-span` defaults to --device auto; torch has no such device and the command
    died with a traceback."""
    import torch

    from mrc.loading import resolve_device
    from qa.core.settings import Device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(Device.AUTO).type == expected
