"""`qa ask --file`: many questions answered by the real engine (the small graph), one JSON line
each, errors per line, the file checked before anything is asked, partial answers kept on Ctrl-C."""

from __future__ import annotations

import json

import pytest

from qa.batch import ask_file, read_questions
from qa.cli import main
from qa.core.errors import DataFormatError, InputError, NotFoundError
from qa.core.settings import Settings
from qa.core.types import Answer, Question, Route
from qa.engine import Engine


def _lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_a_file_of_questions_is_answered_line_by_line(small_ttl, tmp_path, capsys):
    qs = tmp_path / "q.txt"
    qs.write_text("\ufeffWhat is the capital of France?\n\n   \nWhat is the capital of Germany?\n", encoding="utf-8")
    assert main(["ask", "--file", str(qs), "--route", "kbqa", "--graph", str(small_ttl)]) == 0
    captured = capsys.readouterr()
    records = _lines(captured.out)
    assert [(r["id"], r["answers"][0]["text"]) for r in records] == [("1", "Paris"), ("4", "Berlin")]
    assert records[0]["routing"]["chosen"] == "kbqa"
    assert "2 questions: 2 answered" in captured.err
    # JSON lines with ids, a refused question among them, written to --out
    qj = tmp_path / "q.jsonl"
    qj.write_text('{"id": "fr", "question": "What is the capital of France?"}\n{"id": 7, "question": "  "}\n',
                  encoding="utf-8")
    out = tmp_path / "answers" / "a.jsonl"
    assert main(["ask", "-f", str(qj), "-r", "kbqa", "--graph", str(small_ttl), "-o", str(out)]) == 0
    records = _lines(out.read_text(encoding="utf-8"))
    assert records[0]["id"] == "fr" and records[0]["answers"][0]["text"] == "Paris"
    assert records[1]["id"] == "7" and "empty" in records[1]["error"]["message"]
    assert records[1]["error"]["type"] == "input_error"  # as the API says it, not the class name "InputError"
    assert "1 refused" in capsys.readouterr().err
    assert main(["ask", "-f", str(qj), "-r", "kbqa", "-o", str(qj)]) == 2  # would overwrite the questions
    assert "is the file being read" in capsys.readouterr().err and "fr" in qj.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "text", "words"), [
    ("bad.jsonl", '{"question": "a?"}\nnot json\n', "bad.jsonl:2: invalid JSON"),
    ("shape.jsonl", '{"q": "a?"}\n', 'shape.jsonl:1: each line must be an object with a "question" string'),
    ("twice.jsonl", '{"id": 1, "question": "a?"}\n{"id": "1", "question": "b?"}\n', "the id '1' is used twice"),
    ("mixed.jsonl", '{"id": 2, "question": "a?"}\n{"question": "b?"}\n',
     "mixed.jsonl:2: this line has no id, and its line number '2' is another question's id"),
    ("order.jsonl", '{"question": "a?"}\n{"id": 1, "question": "b?"}\n',
     "order.jsonl:2: the id '1' is also line 1's line number"),
    ("half.jsonl", '{"id": 1.5, "question": "a?"}\n', '"id" must be a string or a whole number, not 1.5'),
    ("empty.txt", "\n\n", "no questions"),
    # a JSON record among plain lines was asked as its own text, its id lost
    ("questions.txt", 'Who wrote Emma?\n\n{"id": "x1", "question": "Which countries border Germany?"}\n',
     "questions.txt:3: a JSON question in a file read as one question a line"),
])
def test_a_malformed_file_is_refused_before_any_question_is_asked(tmp_path, capsys, name, text, words):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises((DataFormatError, InputError), match=words):
        read_questions(path)
    assert main(["ask", "--file", str(path), "--route", "kbqa"]) == 2
    err = capsys.readouterr().err
    assert words in " ".join(err.split()) and "Traceback" not in err


def test_question_and_file_together_or_neither_are_refused(capsys):
    assert main(["ask"]) == 2
    assert main(["ask", "Who?", "--file", "q.txt"]) == 2
    assert main(["ask", "Who wrote Emma?", "--out", "a.jsonl"]) == 2
    from pathlib import Path

    from qa.commands import check_writable

    with pytest.raises(InputError, match="'-' is not a file name here"):
        check_writable(Path("-"))  # eval's --out - wrote a file named "-"
    err = capsys.readouterr().err
    assert "--out goes with --file" in err and "usage: qa ask" in err


class Interrupted:
    """A source stopped at its second question: Ctrl-C, or a failure of its own (out of memory)."""

    name = Route.WEBQA

    def __init__(self, error: type[BaseException] = KeyboardInterrupt) -> None:
        self.asked = 0
        self.error = error

    def warm_up(self) -> None:
        pass

    def answer(self, question: Question, top_k: int) -> list[Answer]:
        self.asked += 1
        if self.asked == 2:
            raise self.error
        return [Answer(text="an answer", score=0.9, route=Route.WEBQA)]


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_a_stopped_run_keeps_the_answers_already_paid_for(tmp_path, capsys, error):
    qs = tmp_path / "q.txt"
    qs.write_text("first?\nsecond?\nthird?\n", encoding="utf-8")
    out = tmp_path / "a.jsonl"
    engine = Engine(Settings(), sources={Route.WEBQA: Interrupted(error)}, routes=[Route.WEBQA])
    with pytest.raises(error):
        ask_file(engine, qs, out)
    assert [r["id"] for r in _lines(out.read_text(encoding="utf-8"))] == ["1"]
    assert "stopped after 1 of 3 questions" in capsys.readouterr().err


def test_a_stopped_run_never_replaces_an_earlier_runs_answers(tmp_path, capsys):
    qs = tmp_path / "q.txt"
    qs.write_text("first?\nsecond?\nthird?\n", encoding="utf-8")
    out = tmp_path / "a.jsonl"
    out.write_text('{"id": "1", "earlier": true}\n', encoding="utf-8")
    engine = Engine(Settings(), sources={Route.WEBQA: Interrupted()}, routes=[Route.WEBQA])
    with pytest.raises(KeyboardInterrupt):
        ask_file(engine, qs, out)
    assert out.read_text(encoding="utf-8") == '{"id": "1", "earlier": true}\n'
    partial = tmp_path / "a.jsonl.partial"
    assert [r["id"] for r in _lines(partial.read_text(encoding="utf-8"))] == ["1"]
    assert "a.jsonl.partial" in " ".join(capsys.readouterr().err.split())


@pytest.fixture
def full_disk(monkeypatch) -> None:
    """The answers file opens, and no answer can be written to it (answers are still printed)."""
    import qa.batch

    def refuse(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(qa.batch._Journal, "_put", refuse)


def _ask_three(tmp_path, lines: str = "first?\nsecond?\nthird?\n") -> None:
    qs = tmp_path / "q.txt"
    qs.write_text(lines, encoding="utf-8")
    engine = Engine(Settings(), sources={Route.WEBQA: Interrupted()}, routes=[Route.WEBQA])
    ask_file(engine, qs, tmp_path / "a.jsonl")


def test_answers_that_cannot_be_written_are_printed_instead(tmp_path, capsys, full_disk):
    with pytest.raises(InputError, match="No space left on device.*printed to standard output"):
        _ask_three(tmp_path, "first?\n")
    assert [r["id"] for r in _lines(capsys.readouterr().out)] == ["1"]


def test_answers_are_on_disk_as_they_come_so_a_killed_run_keeps_them(tmp_path, capsys):
    """`--out` held every answer in memory and wrote them at the end: a run killed (kill -9, out of
    memory) after hours kept nothing, and a million answers were gigabytes of memory."""
    qs = tmp_path / "q.txt"
    qs.write_text("first?\nsecond?\nthird?\n", encoding="utf-8")
    out = tmp_path / "a.jsonl"
    seen: list[str] = []

    class Watching(Interrupted):
        def answer(self, question, top_k):
            part = tmp_path / "a.jsonl.partial"
            seen.append(part.read_text(encoding="utf-8") if part.exists() else "")
            return [Answer(text="an answer", score=0.9, route=Route.WEBQA)]

    engine = Engine(Settings(), sources={Route.WEBQA: Watching()}, routes=[Route.WEBQA])
    ask_file(engine, qs, out)
    assert [len(_lines(text)) for text in seen] == [0, 1, 2]  # each answer written before the next question
    assert [r["id"] for r in _lines(out.read_text(encoding="utf-8"))] == ["1", "2", "3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "q.txt"]


def test_old_mac_line_ends_are_line_ends(tmp_path):
    """A file whose lines end in CR alone was one question, every line run together."""
    for name, text in (("cr.txt", "Who wrote Hamlet?\rWhat is the capital of Australia?\r"),
                       ("cr.jsonl", '{"id": "a", "question": "Who wrote Hamlet?"}\r{"id": "b", "question": "Why?"}\r')):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))
        assert [q.question for q in read_questions(path)] == ["Who wrote Hamlet?",
                                                              "What is the capital of Australia?" if name == "cr.txt"
                                                              else "Why?"]


def test_a_jsonl_file_is_read_as_such_whatever_the_case_of_its_name(tmp_path):
    for name in ("Q.JSONL", "q.ndjson", "questions"):
        path = tmp_path / name
        path.write_text('{"id": "q1", "question": "What is the capital of Japan?"}\n', encoding="utf-8")
        assert read_questions(path)[0].id == "q1" and read_questions(path)[0].question.startswith("What")


def test_ctrl_c_stays_ctrl_c_when_the_part_cannot_be_written(tmp_path, capsys, full_disk):
    with pytest.raises(KeyboardInterrupt):  # exit 130, not 2
        _ask_three(tmp_path)
    captured = capsys.readouterr()
    assert "No space left on device" in " ".join(captured.err.split())
    assert [r["id"] for r in _lines(captured.out)] == ["1"]


@pytest.mark.parametrize(("name", "text", "words"), [
    ("q.csv", "id,question\n1,Who wrote Hamlet?\n", "not from CSV or TSV"),
    ("q.json", '[\n  {"id": 1, "question": "Who wrote Hamlet?"}\n]\n', "a JSON array; give JSON lines"),
])
def test_a_csv_file_or_a_json_array_is_refused_by_name_not_asked_line_by_line(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=words):
        read_questions(path)
    plain = tmp_path / "q.txt"  # a question may open with a bracket
    plain.write_text("[Draft] who wrote Hamlet?\n", encoding="utf-8")
    assert read_questions(plain)[0].question == "[Draft] who wrote Hamlet?"


def test_options_that_refuse_every_question_end_the_run_at_once(small_ttl, tmp_path, capsys):
    qs = tmp_path / "q.txt"
    qs.write_text("What is the capital of France?\nWhat is the capital of Germany?\n", encoding="utf-8")
    code = main(["ask", "--file", str(qs), "--route", "kbqa", "--graph", str(small_ttl), "-c", "notes"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""  # not two "refused" lines and exit 0
    assert "goes with the route webqa" in " ".join(captured.err.split())


class GraphFails(Interrupted):
    """A graph whose query for the second question fails (`error`), a store busy with an import."""

    name = Route.KBQA

    def answer(self, question: Question, top_k: int) -> list[Answer]:
        self.asked += 1
        if self.asked == 2:
            raise self.error("the query ran past 5 s")
        return [Answer(text="an answer", score=0.9, route=Route.KBQA)]


@pytest.mark.parametrize("kind", ["timeout", "graph_error", "busy"])
def test_a_question_whose_query_fails_is_one_line_not_the_end_of_the_run(tmp_path, capsys, kind):
    from kb.store import QueryError, QueryTimeout
    from qa.core.errors import BusyError

    qs = tmp_path / "q.txt"
    qs.write_text("first?\nsecond?\nthird?\n", encoding="utf-8")
    error = {"timeout": QueryTimeout, "graph_error": QueryError, "busy": BusyError}[kind]
    engine = Engine(Settings(route="kbqa"), sources={Route.KBQA: GraphFails(error)}, routes=[Route.KBQA])
    ask_file(engine, qs, None)
    captured = capsys.readouterr()
    records = _lines(captured.out)
    assert [r["id"] for r in records] == ["1", "2", "3"]
    assert records[1]["error"] == {"type": kind,
                                   "message": "the query ran past 5 s"}
    assert "answers" in records[2] and "2 answered, 0 no answer, 1 refused" in captured.err


def test_a_graph_that_cannot_be_asked_at_all_ends_the_run(tmp_path, capsys):
    from kb.store import EndpointUnavailable

    qs = tmp_path / "q.txt"
    qs.write_text("first?\nsecond?\nthird?\n", encoding="utf-8")
    engine = Engine(Settings(route="kbqa"), sources={Route.KBQA: GraphFails(EndpointUnavailable)},
                    routes=[Route.KBQA])
    with pytest.raises(EndpointUnavailable):
        ask_file(engine, qs, None)
    captured = capsys.readouterr()
    assert [r["id"] for r in _lines(captured.out)] == ["1"]
    assert "stopped after 1 of 3 questions; their answers are on standard output" in captured.err


def test_a_partial_file_already_there_is_never_written_over(tmp_path, capsys):
    """The .partial was opened for writing whatever was there: an earlier run's answers (the run
    had said "their answers are in a.jsonl.partial"), the question file itself (`-f a.partial -o a`
    emptied it), a link planted there (its target was written)."""
    qs = tmp_path / "q.txt"
    qs.write_text("first?\n", encoding="utf-8")
    engine = Engine(Settings(), sources={Route.WEBQA: Interrupted()}, routes=[Route.WEBQA])
    out, part = tmp_path / "a.jsonl", tmp_path / "a.jsonl.partial"
    part.write_text('{"id": "old-1"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="a.jsonl.partial is there already"):
        ask_file(engine, qs, out)
    assert part.read_text(encoding="utf-8") == '{"id": "old-1"}\n' and not out.exists()
    part.unlink()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    part.symlink_to(victim)
    with pytest.raises(InputError, match="is there already"):
        ask_file(engine, qs, out)
    assert victim.read_text(encoding="utf-8") == "keep me"
    part.unlink()
    same = tmp_path / "b.partial"
    same.write_text("first?\n", encoding="utf-8")
    with pytest.raises(InputError):
        ask_file(engine, same, tmp_path / "b")
    assert same.read_text(encoding="utf-8") == "first?\n"


def test_a_line_cut_short_by_a_full_disk_is_taken_back(tmp_path, capsys, monkeypatch):
    """With a file size limit the .partial ended in half a JSON line, that answer printed too."""
    import qa.batch

    real = qa.batch._Journal._put

    def half(self, data):
        if self.written == 1:
            real(self, data[: len(data) // 2])
            raise OSError(27, "File too large")
        real(self, data)

    class Answers(Interrupted):
        def answer(self, question, top_k):
            return [Answer(text="an answer", score=0.9, route=Route.WEBQA)]

    monkeypatch.setattr(qa.batch._Journal, "_put", half)
    qs = tmp_path / "q.txt"
    qs.write_text("first?\nsecond?\nthird?\n", encoding="utf-8")
    engine = Engine(Settings(), sources={Route.WEBQA: Answers()}, routes=[Route.WEBQA])
    with pytest.raises(InputError, match="the first 1 answers are in it, the other 2 were printed"):
        ask_file(engine, qs, tmp_path / "a.jsonl")
    part = tmp_path / "a.jsonl.partial"
    assert [r["id"] for r in _lines(part.read_text(encoding="utf-8"))] == ["1"]
    assert [r["id"] for r in _lines(capsys.readouterr().out)] == ["2", "3"]


def test_a_json_line_may_carry_what_an_api_request_body_does(small_ttl, tmp_path, capsys):
    """A line's route, history and collection had been dropped without a word: the question was
    answered as if it stood alone, from whatever source the router chose."""
    qj = tmp_path / "q.jsonl"
    qj.write_text("\n".join(json.dumps(line) for line in [
        {"id": "routed", "question": "What is the capital of France?", "route": "kbqa", "top_k": 2},
        {"id": "turn2", "question": "And of Germany?",
         "history": [{"question": "What is the capital of France?", "answer": "Paris"}]},
        {"id": "notes", "question": "What is the capital of France?", "collection": "notes"},
    ]), encoding="utf-8")
    assert main(["ask", "--file", str(qj), "--graph", str(small_ttl), "--route", "kbqa"]) == 0
    routed, turn2, notes = _lines(capsys.readouterr().out)
    assert routed["routing"]["chosen"] == "kbqa" and routed["answers"][0]["text"] == "Paris"
    assert turn2["rewritten"] and "Germany" in turn2["rewritten"] and turn2["answers"][0]["text"] == "Berlin"
    # this line's own collection is refused for this line alone (it goes with passages, not the graph)
    assert "goes with the route webqa" in notes["error"]["message"]


def test_a_json_lines_own_fields_are_named_once_not_refused(tmp_path, caplog):
    """A file's "expected" answer or notes are no mistake: such files had been refused whole."""
    qj = tmp_path / "q.jsonl"
    qj.write_text('{"question": "a?", "expected": "x", "topk": 3}\n{"question": "b?", "expected": "y"}\n',
                  encoding="utf-8")
    assert [q.question for q in read_questions(qj)] == ["a?", "b?"]
    assert caplog.text.count("are not read") == 1 and "expected, topk" in caplog.text


@pytest.mark.parametrize(("line", "words"), [
    ({"question": "a?", "route": "sparql"}, 'q.jsonl:1: "route": Input should be'),
    ({"question": "a?", "top_k": "3"}, 'q.jsonl:1: "top_k": Input should be a valid integer'),
    ({"question": "a?", "history": [{"question": ""}]}, 'q.jsonl:1: "history.0.question"'),
])
def test_a_json_lines_other_fields_are_checked_as_the_api_checks_them(tmp_path, line, words):
    qj = tmp_path / "q.jsonl"
    qj.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=words):
        read_questions(qj)


def test_a_collection_no_one_has_is_said_before_the_first_question(tmp_path, capsys, monkeypatch):
    """It had been the first question's error, and then "stopped after 0 of 2 questions; their
    answers are on standard output" with nothing there."""
    qs = tmp_path / "q.txt"
    qs.write_text("Who closed ticket 42?\nWhat is the capital of France?\n", encoding="utf-8")
    engine = Engine(Settings())
    monkeypatch.setattr(engine, "collections", lambda: ["default", "notes"])
    with pytest.raises(NotFoundError, match="no collection named 'nosuch'; known: default, notes"):
        ask_file(engine, qs, None, collection="nosuch")
    assert capsys.readouterr().out == ""
