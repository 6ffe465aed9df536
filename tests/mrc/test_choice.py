"""Multiple-choice input construction (shared with training) and the ChoiceReader."""

from __future__ import annotations

from pathlib import Path

import pytest

from mrc.choice import ChoiceReader, ChoiceRequest, build_choice_inputs, pad_choice_batch, second_segment
from qa.core.errors import InputError, ModelNotFoundError
from qa.core.settings import Settings


def test_second_segment_blank_and_plain() -> None:
    assert second_segment("He went to _ yesterday.", "school") == "He went to school yesterday."
    assert second_segment("The best title is ____ .", "A\\1 day") == "The best title is A\\1 day ."
    assert second_segment("What did he buy?", "a car") == "What did he buy? a car"


def test_truncation_keeps_question_and_option(packaged_tokenizer) -> None:
    article = "The long article sentence goes on and on. " * 200
    question = "What is the main idea of the passage?"
    options = ["It is about cats", "Dogs are better", "Nothing at all", "None of the above answers"]
    enc = build_choice_inputs(packaged_tokenizer, article, question, options, max_length=64)
    assert set(enc) >= {"input_ids", "attention_mask"}
    assert len(enc["input_ids"]) == 4
    for row, option in zip(enc["input_ids"], options, strict=True):
        assert len(row) == 64
        second = packaged_tokenizer(question + " " + option, add_special_tokens=False)["input_ids"]
        sep = packaged_tokenizer.sep_token_id
        assert row[-len(second) - 1 : -1] == second and row[-1] == sep
        assert row[0] == packaged_tokenizer.cls_token_id
    # short article: nothing is cut, rows differ in length and are not padded
    short = build_choice_inputs(packaged_tokenizer, "Tiny.", question, options, max_length=64)
    assert len({len(r) for r in short["input_ids"]}) > 1


def test_blank_question_fills_the_option(packaged_tokenizer) -> None:
    enc = build_choice_inputs(packaged_tokenizer, "Tom walks.", "Tom goes to _ every day.", ["school"], 32)
    text = packaged_tokenizer.decode(enc["input_ids"][0])
    assert "tom goes to school every day." in text
    assert "_" not in text


def test_overlong_question_keeps_option(packaged_tokenizer) -> None:
    enc = build_choice_inputs(packaged_tokenizer, "Article.", "why " * 100 + "?", ["zebra"], max_length=32)
    row = enc["input_ids"][0]
    assert len(row) <= 32
    assert packaged_tokenizer.decode(row).rstrip().endswith("zebra [SEP]")


def test_an_option_of_fewer_characters_than_tokens_still_fits(packaged_tokenizer) -> None:
    option = ("한국어질문 " * 20)[:16]  # within half the window in characters, three times over it in tokens
    enc = build_choice_inputs(packaged_tokenizer, "Seoul is the capital. " * 10, "Which?", [option, "Busan"],
                              max_length=32)
    assert all(len(row) <= 32 for row in enc["input_ids"])


def test_pad_batch_shapes(packaged_tokenizer) -> None:
    items = [
        build_choice_inputs(packaged_tokenizer, a, "q?", ["x", "y z"], 40) for a in ("one", "two three four")
    ]
    batch = pad_choice_batch(packaged_tokenizer, items)
    assert tuple(batch["input_ids"].shape)[:2] == (2, 2)
    assert batch["attention_mask"][0, 0].sum().item() == len(items[0]["input_ids"][0])


def test_choice_reader_probabilities(tiny_choice_dir: Path) -> None:
    reader = ChoiceReader(Settings(batch_size=4), model_dir=tiny_choice_dir)
    probs = reader.probabilities(
        "What fruit?", "An article about apples.", ["apples", "pears", "kiwis", "figs"]
    )
    assert len(probs) == 4 and sum(probs) == pytest.approx(1.0, abs=1e-5)
    reqs = [
        ChoiceRequest(
            question="What fruit?", article="An article about apples." * (i + 1),
            options=("apples", "pears", "kiwis", "figs"),
        )
        for i in range(5)
    ] + [ChoiceRequest(question="Which _ ?", article="Two options only.", options=("a", "b"))]
    many = reader.probabilities_batch(reqs)
    for req, p in zip(reqs, many, strict=True):
        assert p == pytest.approx(reader.probabilities(req.question, req.article, req.options), abs=1e-5)
    answers = reader.read("What fruit?", "An article about apples.", ["apples", "pears"])
    assert answers[0].score >= answers[1].score and {a.evidence.chosen for a in answers} == {0, 1}
    # shown to four places, as every other score (0.9999071359634399 and 5.667590448865667e-05 were)
    for a in answers:
        assert a.score == round(a.score, 4) and a.evidence.probabilities == [round(p, 4) for p in
                                                                             a.evidence.probabilities]


def test_a_long_article_is_read_in_part_and_the_answer_says_how_much(tiny_choice_dir: Path,
                                                                      packaged_tokenizer) -> None:
    """The reader reads one window and cut a longer article without a word: a fact in its last
    sentence was never seen, and the answer looked as sure as any."""
    reader = ChoiceReader(Settings(batch_size=4, max_seq_length=64), model_dir=tiny_choice_dir)
    short = reader.read("What fruit?", "An article about apples.", ["apples", "pears"])
    assert short[0].evidence.context_chars_read is None
    article = "The boy went to school and played in the park. " * 20 + "Tom likes bananas."
    read = reader.read("What does Tom like?", article, ["apples", "bananas"])[0].evidence.context_chars_read
    assert read is not None and 0 < read < len(article)
    # what the reader saw is the article up to there: the tokens of the window the model was given
    inputs = build_choice_inputs(packaged_tokenizer, article, "What does Tom like?", ["apples", "bananas"], 64)
    seen = packaged_tokenizer.decode(inputs["input_ids"][0]).split("[SEP]")[0].replace("[CLS]", "").strip()
    assert packaged_tokenizer.decode(packaged_tokenizer(article[:read], add_special_tokens=False)["input_ids"]
                                     ).strip() == seen


def test_choice_reader_errors(tiny_choice_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no trained multiple-choice reader at .*missing: folder not found"):
        ChoiceReader(model_dir=tmp_path / "missing")
    reader = ChoiceReader(model_dir=tiny_choice_dir)
    with pytest.raises(InputError):
        reader.probabilities("q", "a", ["only one"])
