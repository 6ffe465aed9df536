"""SQuAD / RACE loaders: formats, compression, and clear errors for malformed files."""

from __future__ import annotations

import gzip
import json
import lzma
from pathlib import Path

import pytest

from mrc.datasets import load_race, load_squad
from qa.core.errors import DataFormatError, InputError
from qa.core.paths import SHARED_DATA

SQUAD = {
    "version": "1.1",
    "data": [
        {
            "title": "T",
            "paragraphs": [
                {
                    "context": "Paris is in France.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Where?",
                            "answers": [{"text": "France", "answer_start": 12}],
                        },
                        {"id": "q2", "question": "What?", "answers": [{"text": "Paris", "answer_start": 0}]},
                    ],
                }
            ],
        }
    ],
}
RACE = {
    "id": "high1.txt",
    "article": "Tom likes apples.",
    "questions": ["What does Tom like?", "Tom likes _ ."],
    "options": [["apples", "pears", "figs", "kiwis"], ["apples", "cars", "dogs", "sky"]],
    "answers": ["A", "A"],
}


@pytest.mark.parametrize("suffix", [".json", ".json.gz", ".json.xz"])
def test_squad_compressed_transparently(tmp_path: Path, suffix: str) -> None:
    raw = json.dumps(SQUAD).encode()
    path = tmp_path / f"s{suffix}"
    path.write_bytes(
        gzip.compress(raw) if suffix.endswith("gz") else lzma.compress(raw) if suffix.endswith("xz") else raw
    )
    ds = load_squad(path)
    assert ds.version == 1 and [e.qid for e in ds.examples] == ["q1", "q2"]
    assert ds.examples[0].answers == ("France",) and ds.examples[0].answer_starts == (12,)
    sub = ds.subset(1)
    assert len(sub.examples) == 1 and len(sub.data[0]["paragraphs"][0]["qas"]) == 1


def test_squad_v2_detection(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(SQUAD))
    doc["version"] = "v2.0"
    doc["data"][0]["paragraphs"][0]["qas"][1].update(is_impossible=True, answers=[])
    (tmp_path / "v2.json").write_text(json.dumps(doc))
    ds = load_squad(tmp_path / "v2.json")
    assert ds.version == 2 and ds.examples[1].is_impossible
    with pytest.raises(DataFormatError, match="v1.1 scoring would count wrong"):
        load_squad(tmp_path / "v2.json", version="1")  # each unanswerable question counted wrong without a word


def _squad_file(tmp_path: Path, **changes: object) -> Path:
    doc = json.loads(json.dumps(SQUAD))
    doc["data"][0]["paragraphs"][0]["qas"][0].update(changes)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    return path


def test_is_impossible_must_be_true_or_false(tmp_path: Path) -> None:
    """The string "false" is truthy: it had made a v1.1 file a v2.0 one, scored with "no answer"."""
    with pytest.raises(DataFormatError, match=r"qas\[0\]: 'is_impossible' must be true or false, found \"false\""):
        load_squad(_squad_file(tmp_path, is_impossible="false"))
    assert load_squad(_squad_file(tmp_path, is_impossible=False)).version == 1
    assert load_squad(_squad_file(tmp_path, is_impossible=None)).version == 1


def test_a_v1_question_without_answers_is_refused_unless_scored_as_v2(tmp_path: Path) -> None:
    """The official v1.1 script fails on it; the API had scored it wrong without a word."""
    path = _squad_file(tmp_path, answers=[])
    with pytest.raises(DataFormatError, match="'q1' has no answers .*--version 2"):
        load_squad(path)
    ds = load_squad(path, version=2)
    assert ds.version == 2 and ds.examples[0].is_impossible


def test_an_answer_start_off_its_text_is_moved_to_the_nearest_place(tmp_path: Path, caplog) -> None:
    path = _squad_file(tmp_path, answers=[{"text": "France", "answer_start": -1},
                                          {"text": "France", "answer_start": 99999},
                                          {"text": "France", "answer_start": 12}])
    ds = load_squad(path)
    assert ds.examples[0].answer_starts == (12, 12, 12)
    assert "2 answer(s) had an answer_start that does not point at their text" in caplog.text
    # an alternative wording not in the text is a gold answer to score against (the official script's)
    alternative = load_squad(_squad_file(tmp_path, answers=[{"text": "France", "answer_start": 12},
                                                            {"text": "the French Republic", "answer_start": 12}]))
    assert alternative.examples[0].answers == ("France", "the French Republic")
    assert alternative.examples[0].answer_starts == (12, -1)  # placed nowhere: never a span to learn from


def test_the_training_loader_takes_the_same_answers(tmp_path: Path) -> None:
    from mrc.train_span import load_squad_examples

    with pytest.raises(DataFormatError, match=r"question 0: .*the answer 'London' is not in its paragraph"):
        load_squad_examples(_squad_file(tmp_path, answers=[{"text": "London", "answer_start": 12}]))
    moved = load_squad_examples(_squad_file(tmp_path, answers=[{"text": "France", "answer_start": 3}]))
    assert (moved[0].answer_start, moved[0].answer_text) == (12, "France")  # not an unanswerable example
    with pytest.raises(DataFormatError, match="is_impossible"):
        load_squad_examples(_squad_file(tmp_path, is_impossible="no"))
    # what `qa eval` refuses, training refuses too (it had trained on them without a word)
    with pytest.raises(DataFormatError, match="question 0: not SQuAD's layout .the question must be text"):
        load_squad_examples(_squad_file(tmp_path, question=" "))
    with pytest.raises(DataFormatError, match="the answer is empty"):
        load_squad_examples(_squad_file(tmp_path, answers=[{"text": "", "answer_start": 0}]))


def test_race_levels_are_read_whatever_their_case(tmp_path: Path, caplog) -> None:
    path = tmp_path / "r.jsonl"
    lines = [dict(RACE, id="a", level="High"), dict(RACE, id="b", level=" middle"), dict(RACE, id="c", level="college")]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    assert [q.level for q in load_race(path)] == ["high", "high", "middle", "middle", "college", "college"]
    assert "2 question(s) of level 'college', neither middle nor high" in caplog.text
    path.write_text(json.dumps(dict(RACE, level=5)))
    with pytest.raises(DataFormatError, match="'level' must be middle or high, found 5"):
        load_race(path)


def test_race_files_without_ids_in_both_levels_stay_apart(tmp_path: Path) -> None:
    article = {k: v for k, v in RACE.items() if k != "id"}
    for level in ("high", "middle"):
        (tmp_path / "dev" / level).mkdir(parents=True)
        (tmp_path / "dev" / level / "1.txt").write_text(json.dumps(article))
    qs = load_race(tmp_path / "dev")
    assert [(q.qid, q.level) for q in qs] == [("high/1.txt-0", "high"), ("high/1.txt-1", "high"),
                                              ("middle/1.txt-0", "middle"), ("middle/1.txt-1", "middle")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"version": "1.1"}', "missing 'data'"),
        (
            '{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "x", "question": "q"}]}]}]}',
            "missing 'answers'",
        ),
        ('{"data": [{"paragraphs": [{"context": 3, "qas": []}]}]}', "'context' must be str"),
        ('{"data": []}', "no questions"),
        # every question of it scored 0 without a word
        ('{"data": [{"paragraphs": [{"context": "  ", "qas": [{"id": "x", "question": "q?", "answers": []}]}]}]}',
         "the context is empty, and 1 question"),
    ],
)
def test_squad_malformed(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message) as info:
        load_squad(path)
    assert "bad.json" in str(info.value)


def test_squad_bad_bytes(tmp_path: Path) -> None:
    (tmp_path / "x.json.gz").write_bytes(b"not gzip at all")  # it had been "truncated or corrupt"
    with pytest.raises(DataFormatError, match=r"x.json.gz is named .gz but is not compressed: rename it"):
        load_squad(tmp_path / "x.json.gz")
    (tmp_path / "y.json.gz").write_bytes(gzip.compress(b'{"data": [')[:15])
    with pytest.raises(DataFormatError, match="truncated or corrupt compressed file"):
        load_squad(tmp_path / "y.json.gz")
    (tmp_path / "latin.json").write_bytes(b'{"data": "\xe9"}')
    with pytest.raises(DataFormatError, match="not UTF-8"):
        load_squad(tmp_path / "latin.json")
    with pytest.raises(InputError, match="not found"):
        load_squad(tmp_path / "absent.json")


def test_race_jsonl_gz_and_folder(tmp_path: Path) -> None:
    path = tmp_path / "race.jsonl.gz"
    line = dict(RACE, level="high")
    path.write_bytes(gzip.compress((json.dumps(line) + "\n\n").encode()))
    qs = load_race(path)
    assert [q.qid for q in qs] == ["high1.txt-0", "high1.txt-1"]
    assert qs[0].answer == 0 and qs[0].level == "high" and len(qs[1].options) == 4
    folder = tmp_path / "RACE" / "dev" / "middle"
    folder.mkdir(parents=True)
    (folder / "1.txt").write_text(json.dumps(RACE))
    (folder / "2.txt").write_text(json.dumps(dict(RACE, id="middle2.txt")))
    from_folder = load_race(tmp_path / "RACE")
    assert len(from_folder) == 4 and {q.level for q in from_folder} == {"middle"}


@pytest.mark.parametrize(
    ("article", "message"),
    [
        (dict(RACE, answers=["A"]), "must match"),
        (dict(RACE, answers=["A", "E"]), "is not one of 'ABCD'"),
        (dict(RACE, options=[["a"], ["b", "c"]]), "2 to 26 texts"),
        (dict(RACE, options=[[f"stone {i}" for i in range(27)], ["b", "c"]]), "2 to 26 texts"),  # no letter
        (dict(RACE, questions=["  ", "Tom likes _ ."]), r"questions\[0\] must be text, not empty"),
        (dict(RACE, questions=["x" * 2001, "Tom likes _ ."]), "2,001 characters long"),
        (dict(RACE, article="  "), "the article is empty"),
        ({k: v for k, v in RACE.items() if k != "article"}, "missing 'article'"),
    ],
)
def test_race_malformed(tmp_path: Path, article: dict, message: str) -> None:
    path = tmp_path / "race.jsonl"
    path.write_text(json.dumps(article) + "\n")
    with pytest.raises(DataFormatError, match=message) as info:
        load_race(path)
    assert "race.jsonl, line 1" in str(info.value)


def test_squad_and_race_files_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "race.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(RACE).encode() + b"\n")
    assert len(load_race(path)) == 2


MRC = SHARED_DATA / "mrc"


@pytest.mark.skipif(not (MRC / "race-dev.jsonl.gz").exists(), reason="shared data absent")
def test_real_files_load() -> None:
    assert len(load_race(MRC / "race-dev.jsonl.gz")) == 4887
    assert len(load_squad(MRC / "squad-v2.0-dev.reconstructed.json.gz").examples) == 11873


def test_race_articles_without_ids_are_told_apart_by_their_line(tmp_path) -> None:
    from mrc.datasets import load_race

    art = {"article": "Ann ran home.", "questions": ["Who ran?"], "options": [["Ann", "Bob"]], "answers": ["A"]}
    path = tmp_path / "noid.jsonl"
    path.write_text(json.dumps(art) + "\n" + json.dumps(art) + "\n", encoding="utf-8")
    assert [q.qid for q in load_race(path)] == ["noid.jsonl-line1-0", "noid.jsonl-line2-0"]


def test_a_squad_question_the_readers_cannot_take_is_refused_when_the_file_is_read(tmp_path) -> None:
    from mrc.datasets import load_squad
    from qa.core.errors import DataFormatError

    for question, needle in (("  ", "'q1' is empty"), ("why " * 600, "'q1' is 2,399 characters long")):
        data = {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "Ann ran.", "qas": [
            {"id": "q1", "question": question, "answers": [{"text": "Ann", "answer_start": 0}]}]}]}]}
        path = tmp_path / "dev.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(DataFormatError, match=needle):
            load_squad(path)


def test_a_race_option_that_is_empty_is_refused_when_the_file_is_read(tmp_path) -> None:
    from mrc.datasets import load_race
    from qa.core.errors import DataFormatError

    art = {"id": "a", "article": "Ann ran.", "questions": ["Who ran?"], "options": [["Ann", " "]], "answers": ["A"]}
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(art) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"options\[0\] must be a list of 2 to 26 texts, none empty"):
        load_race(path)


def test_cuda_without_a_gpu_runs_on_the_cpu_and_says_so_once(caplog) -> None:
    import torch

    from mrc import loading
    from qa.core import onnx_models

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    onnx_models._NO_GPU_SAID.clear()
    with caplog.at_level("WARNING", logger="qa"):
        assert str(loading.resolve_device("cuda")) == "cpu" and str(loading.resolve_device("cuda")) == "cpu"
    assert [r.getMessage() for r in caplog.records].count(
        "device cuda asked for, but no GPU is available: running on the CPU") == 1


def test_a_race_line_holding_a_unicode_line_separator_is_one_line(tmp_path) -> None:
    from kb.loaders import tsv_triples

    path = tmp_path / "race.jsonl"  # json.dumps(ensure_ascii=False) writes U+2028 as it is
    path.write_text(json.dumps(dict(RACE, article="Tom likes\u2028apples.\u0085"), ensure_ascii=False) + "\n",
                    encoding="utf-8")
    assert [q.article for q in load_race(path)] == ["Tom likes\u2028apples.\u0085"] * len(RACE["questions"])
    # one triple, not a second line "Ile" refused as malformed
    assert any(str(o) == "France\u2028Ile" for _, _, o in tsv_triples("Paris\tcapital of\tFrance\u2028Ile\n"))


def test_a_race_file_given_as_squad_and_the_other_way_round_says_so(tmp_path: Path) -> None:
    """`qa eval squad race-dev.jsonl.gz` said "invalid JSON at line 2, column 1: Extra data"."""
    from mrc.datasets import load_race

    line = json.dumps(RACE)
    (tmp_path / "race-dev.jsonl").write_text(line + "\n" + line.replace('"id": "', '"id": "2') + "\n")
    with pytest.raises(DataFormatError, match="RACE questions .*`qa eval race`"):
        load_squad(tmp_path / "race-dev.jsonl")
    (tmp_path / "race-small.txt").write_text(line + "\n" + line + "\n")
    with pytest.raises(DataFormatError, match="JSON lines .* name the file .jsonl"):
        load_race(tmp_path / "race-small.txt")
    (tmp_path / "one.json").write_text(line)
    with pytest.raises(DataFormatError, match="a RACE article, not a SQuAD file"):
        load_squad(tmp_path / "one.json")
    (tmp_path / "squad.json").write_text(json.dumps(SQUAD))
    with pytest.raises(DataFormatError, match="a SQuAD file, not RACE: it is for the span reader"):
        load_race(tmp_path / "squad.json")  # `qa train choice` on it was told to evaluate it
