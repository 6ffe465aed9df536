"""SpanReader mechanics on tiny random models and hand-set logits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from mrc.span import DEFAULT_TEMPERATURE, ReadRequest, SpanReader
from qa.core.errors import InputError, ModelNotFoundError
from qa.core.settings import Settings

CONTEXTS = [
    "Café  au lait,   naïve façade — “quoted” text!\n\nThe answer is Zürich, obviously.",
    "東京は日本の首都です。 Tokyo (東京) is the capital of Japan; population ≈ 14 million.",
    "   Leading spaces,\ttabs\tand   runs   of   spaces... Ångström & Øresund, São Paulo?!",
    "Emoji 🙂 and combining e\u0301 accents; Crème brûlée costs €5.50 (approx.).",
]


def test_fp16_weights_load_as_float32(tiny_span_dir: Path) -> None:
    reader = SpanReader(model_dir=tiny_span_dir, backend="torch")
    assert next(reader.model.parameters()).dtype == torch.float32


@pytest.mark.parametrize("context", CONTEXTS)
def test_offsets_map_back_exactly(tiny_span_dir: Path, context: str) -> None:
    reader = SpanReader(Settings(max_seq_length=32, doc_stride=8, n_best=30), model_dir=tiny_span_dir)
    answers = reader.read("What is it?", context, top_k=20, allow_no_answer=False)
    assert answers
    for a in answers:
        assert a.start is not None and a.end is not None
        assert context[a.start : a.end] == a.text
        assert a.span.text == context and a.route == "reader"
        assert 0.0 <= a.score <= 1.0


@pytest.mark.parametrize(
    ("context", "target"),
    [
        (CONTEXTS[0], "Zürich"),
        (CONTEXTS[1], "Japan"),
        (CONTEXTS[2], "Øresund"),
        (CONTEXTS[3], "Crème brûlée"),
        ("The word 東京 appears here.", "東京"),
    ],
)
def test_target_span_text_and_offsets(target_reader, context: str, target: str) -> None:
    reader = target_reader(target)
    (best,) = reader.read("Which one?", context)
    assert not best.no_answer
    assert best.text == target
    assert best.start == context.index(target)
    assert best.raw_score == pytest.approx(20.0)


def test_answer_in_a_later_window(target_reader, packaged_tokenizer) -> None:
    filler = "Nothing to see in this sentence at all. " * 60
    context = filler + "The treasure is buried under the old oak tree. " + filler
    reader = target_reader("oak", max_seq_length=64, doc_stride=16)
    feats = reader._featurize([ReadRequest("Where is it?", context)])
    assert len(feats.input_ids) > 5  # really strided
    (best,) = reader.read("Where is it?", context)
    assert best.text == "oak" and context[best.start : best.end] == "oak"
    assert best.start > len(filler)


def test_nbest_sorted_distinct(tiny_span_dir: Path) -> None:
    reader = SpanReader(Settings(n_best=20), model_dir=tiny_span_dir)
    answers = reader.read("What?", CONTEXTS[0] * 3, top_k=7, allow_no_answer=False)
    assert len(answers) == 7
    scores = [a.raw_score for a in answers]
    assert scores == sorted(scores, reverse=True)
    assert len({(a.start, a.end) for a in answers}) == 7


def test_max_answer_length_respected(tiny_span_dir: Path, packaged_tokenizer) -> None:
    # The limit is in tokens before the span is widened to whole words, so check it unwidened.
    reader = SpanReader(
        Settings(max_answer_length=3, n_best=50), model_dir=tiny_span_dir, align_to_words=False
    )
    context = " ".join(CONTEXTS)
    for a in reader.read("What?", context, top_k=40, allow_no_answer=False):
        n_tokens = len(packaged_tokenizer(a.text, add_special_tokens=False)["input_ids"])
        assert n_tokens <= 3


def test_long_span_beyond_max_length_is_not_chosen(target_reader) -> None:
    context = "alpha one two three four five six seven eight nine ten omega"
    reader = target_reader("alpha", end_target="omega", max_answer_length=5)
    for a in reader.read("?", context, top_k=5, allow_no_answer=False):
        assert not (a.text.startswith("alpha") and a.text.endswith("omega"))
    wide = target_reader("alpha", end_target="omega", max_answer_length=30)
    assert wide.read("?", context)[0].text == context
    # longer than any window: the same answer, not an array of the setting's width (4096 cells a token)
    widest = target_reader("alpha", end_target="omega", max_answer_length=4096)
    assert widest.read("?", context)[0].text == context


def test_no_answer_threshold(target_reader) -> None:
    context = "The capital of France is Paris."
    # best span = 10 + 10 = 20; null = 2 * null_each.
    answer = target_reader("Paris", null_each=5.0, null_threshold=0.0).read("?", context)[0]
    assert not answer.no_answer and answer.text == "Paris"
    # null 24 - span 20 = 4 > threshold 3 -> no answer
    none = target_reader("Paris", null_each=12.0, null_threshold=3.0).read("?", context, top_k=2)
    assert none[0].no_answer and none[0].text == "" and none[0].raw_score == pytest.approx(24.0)
    temperature = target_reader("Paris").temperature
    assert none[0].score == pytest.approx(1 - 1 / (1 + math.exp(-(20 - 24 + 3) / temperature)))
    assert none[1].text == "Paris"  # the best span still follows
    # 4 > 5 is false -> answer, and the calibrated score is above 0.5
    kept = target_reader("Paris", null_each=12.0, null_threshold=5.0).read("?", context)[0]
    assert kept.text == "Paris" and kept.score > 0.5
    # SQuAD v1.1 mode ignores the null score
    forced = target_reader("Paris", null_each=12.0, null_threshold=3.0).read(
        "?", context, allow_no_answer=False
    )
    assert forced[0].text == "Paris"


def test_threshold_from_model_folder(tiny_span_dir: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_span_dir, folder)
    (folder / "qa_reader.json").write_text('{"null_threshold": -1.25, "score_temperature": 2.0}')
    reader = SpanReader(model_dir=folder)
    assert reader.null_threshold == -1.25 and reader.temperature == 2.0
    assert SpanReader(Settings(null_threshold=0.5), model_dir=folder).null_threshold == 0.5
    plain = SpanReader(model_dir=tiny_span_dir)
    assert plain.null_threshold == 0.0 and plain.temperature == DEFAULT_TEMPERATURE


@pytest.mark.parametrize("backend", ["torch", "onnx-fp32"])
def test_batching_matches_one_by_one(tiny_span_dir: Path, backend: str) -> None:
    settings = Settings(max_seq_length=48, doc_stride=16, batch_size=3)
    reader = SpanReader(settings, model_dir=tiny_span_dir, backend=backend)
    pairs = [(f"Question number {i}?", c * (i + 1)) for i, c in enumerate(CONTEXTS * 2)]
    together = reader.read_batch(pairs, top_k=3)
    for (q, c), many in zip(pairs, together, strict=True):
        alone = reader.read(q, c, top_k=3)
        assert [(a.text, a.start, a.end, a.no_answer) for a in alone] == [
            (a.text, a.start, a.end, a.no_answer) for a in many
        ]
        for x, y in zip(alone, many, strict=True):
            assert x.raw_score == pytest.approx(y.raw_score, abs=1e-4)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_long_question_is_cut_not_crashing(tiny_span_dir: Path, backend: str) -> None:
    reader = SpanReader(Settings(max_seq_length=64, doc_stride=16), model_dir=tiny_span_dir, backend=backend)
    answers = reader.read("why " * 400, "A short context about nothing.", allow_no_answer=False)
    assert answers and "A short context about nothing."[answers[0].start : answers[0].end] == answers[0].text


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_question_of_fewer_characters_than_tokens_is_cut_too(tiny_span_dir: Path, backend: str) -> None:
    """Hangul splits into jamo: a question within the token budget in characters can be three
    times over it in tokens, which the windowing tokenizer refuses outright."""
    reader = SpanReader(Settings(max_seq_length=64, doc_stride=16), model_dir=tiny_span_dir, backend=backend)
    question = ("한국어질문 " * 100)[: reader.max_question_tokens]
    context = "Seoul is the capital of South Korea. " * 10
    answers = reader.read(question, context, allow_no_answer=False)
    assert answers and context[answers[0].start : answers[0].end] == answers[0].text


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_full_width_question_is_cut_as_it_is_read(tiny_span_dir: Path, backend: str) -> None:
    """A full-width word is one [UNK] but its ASCII form, which the reader reads, several pieces:
    the question cut by the first count overflowed the window and the tokenizer refused the batch."""
    reader = SpanReader(Settings(max_seq_length=64, doc_stride=16), model_dir=tiny_span_dir, backend=backend)
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in "xylophonistically quixotic " * 40)
    context = "Hamlet was written by William Shakespeare around 1600."
    answers = reader.read(wide + "who wrote hamlet?", context, allow_no_answer=False)
    assert answers and context[answers[0].start : answers[0].end] == answers[0].text


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_empty_context_is_no_answer(tiny_span_dir: Path, backend: str) -> None:
    (a,) = SpanReader(model_dir=tiny_span_dir, backend=backend).read("What?", "")
    assert a.no_answer


def test_bad_inputs(tiny_span_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="span reader at .*nope: folder not found"):
        SpanReader(model_dir=tmp_path / "nope")
    reader = SpanReader(model_dir=tiny_span_dir)
    with pytest.raises(InputError):
        reader.read("   ", "context")
    with pytest.raises(InputError):
        SpanReader(Settings(max_seq_length=64, doc_stride=60), model_dir=tiny_span_dir)


def test_spans_align_to_whole_words(tiny_span_dir: Path, packaged_tokenizer) -> None:
    from tests.mrc.conftest import TargetQA

    word = "Grindelwaldbahn"
    pieces = packaged_tokenizer(word, add_special_tokens=False)["input_ids"]
    assert len(pieces) > 1
    context = f"We rode the {word} up, then walked down."
    results = {}
    for align in (True, False):
        reader = SpanReader(model_dir=tiny_span_dir, align_to_words=align, backend="torch")
        reader._model = TargetQA(pieces[-1], pieces[-1], packaged_tokenizer.cls_token_id)
        reader._device = torch.device("cpu")
        (best,) = reader.read("Which train?", context)
        assert context[best.start : best.end] == best.text
        results[align] = best.text
    assert results[True] == word
    assert results[False] != word and word.endswith(results[False])


def test_concurrent_first_reads_load_the_model_once(tiny_span_dir: Path, monkeypatch) -> None:
    """The API serves requests while its warm-up runs: the first reads on several threads must
    share one ONNX session, not build one each."""
    import threading

    import mrc.onnx_export as onnx_export

    built: list[str] = []
    real_init = onnx_export.OnnxSpanModel.__init__

    def counting(self, *args, **kwargs) -> None:
        built.append(threading.current_thread().name)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(onnx_export.OnnxSpanModel, "__init__", counting)
    reader = SpanReader(model_dir=tiny_span_dir, backend="onnx")
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def read() -> None:
        start.wait()
        try:
            reader.read("Who wrote it?", "Ann wrote it.")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(built) == 1


def test_a_large_read_gives_back_the_memory_it_grew(tiny_span_dir: Path, monkeypatch) -> None:
    """ONNX Runtime keeps what its largest run needed: one long document read left a server about
    500 MB larger for good. The last batch of a large read asks the session to give it back; a
    question over its few passages does not (releasing after every run costs small reads ~8 %)."""
    import mrc.onnx_export as onnx_export

    flags: list[bool] = []
    real_call = onnx_export.OnnxSpanModel.__call__

    def spy(self, feed, *, shrink: bool = False):
        flags.append(shrink)
        return real_call(self, feed, shrink=shrink)

    monkeypatch.setattr(onnx_export.OnnxSpanModel, "__call__", spy)
    reader = SpanReader(model_dir=tiny_span_dir, backend="onnx")
    reader.read_batch([("Who wrote it?", "Ann wrote it. " * 20)] * 4)
    assert flags and not any(flags)
    flags.clear()
    answers = reader.read_batch([("Who wrote it?", "Ann wrote it in the spring of that year. " * 2000)])
    assert len(flags) > 1 and flags[-1] and not any(flags[:-1]) and answers[0]
