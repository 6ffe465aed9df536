"""Users' JSON files (SQuAD, RACE, JSON-lines documents and questions, FAQ files) are parsed by one
function, so each kind of bad JSON is one clear error everywhere instead of a traceback somewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.core.errors import DataFormatError
from qa.core.text import json_lines, parse_json


def test_parse_json_names_the_place_of_a_lone_surrogate() -> None:
    doc = '{"data": [{"title": "ok", "context": "cov\\udce9ers"}]}'
    with pytest.raises(DataFormatError, match=r"f.json: data\[0\].context is not valid UTF-8 text"):
        parse_json(doc, "f.json")
    # a surrogate pair is an ordinary character (an emoji), not an error
    assert parse_json('{"t": "smile \\ud83d\\ude00"}', "f.json") == {"t": "smile \U0001F600"}


def test_parse_json_deep_nesting_and_syntax_are_one_error() -> None:
    with pytest.raises(DataFormatError, match="nested too deeply"):
        parse_json("[" * 200_000 + "]" * 200_000, "deep.json")
    with pytest.raises(DataFormatError, match="invalid JSON at line 1, column 2"):
        parse_json("{oops", "bad.json")
    with pytest.raises(DataFormatError, match=r"q.jsonl:2: question is not valid UTF-8"):
        list(json_lines('{"question": "fine"}\n{"question": "caf\\udce9"}\n', "q.jsonl", "question"))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("argv", "name", "text", "needle"), [
    (["eval", "squad"], "surc.json",
     json.dumps({"data": [{"paragraphs": [{"context": "x", "qas": []}]}]}).replace('"x"', '"cov\\udce9ers"'),
     "data[0].paragraphs[0].context is not valid UTF-8 text"),
    (["eval", "race"], "race.jsonl",
     '{"article": "Red.", "questions": ["What col\\udce9r?"], "options": [["red", "blue"]], "answers": ["A"]}\n',
     "questions[0] is not valid UTF-8 text"),
    (["eval", "squad"], "deep.json", "[" * 200_000 + "]" * 200_000, "nested too deeply"),
    (["index"], "docs/x.jsonl", '{"text": "caf\\udce9 is nice", "id": "s1"}\n', "x.jsonl:1: text is not valid UTF-8"),
    (["index"], "docs/x.jsonl", "[" * 200_000 + "]" * 200_000 + "\n", "x.jsonl:1: JSON nested too deeply"),
])
def test_bad_json_files_are_exit_2_with_one_line(argv: list[str], name: str, text: str, needle: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / name, text)
    target = path.parent if argv == ["index"] else path
    extra = ["--out", str(tmp_path / "idx")] if argv == ["index"] else []
    assert main([*argv, str(target), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "idx").exists()


def test_the_first_bad_string_is_named_and_a_one_line_file_keeps_its_line() -> None:
    with pytest.raises(DataFormatError, match=r"f.json: \[0\] is not valid"):
        parse_json('["a\\udce9", "b", "c\\udce9"]', "f.json")
    with pytest.raises(DataFormatError, match=r"f.json: a key in a is not valid"):
        parse_json('{"a": {"k\\udce9": 1}}', "f.json")
    with pytest.raises(DataFormatError, match="invalid JSON at line 1, column 2"):
        parse_json("{not json", "minified.json")  # a whole file on one line still says where


def test_a_utf16_file_is_said_to_be_one_and_bad_bytes_are_placed_by_line(tmp_path: Path) -> None:
    """`qa read -f notes.txt` of a Windows editor's "Unicode" file said "not UTF-8 text (byte 0)",
    and a bad byte in a question file was placed by its offset alone."""
    from qa.core.text import read_text

    wide = tmp_path / "wide.txt"
    wide.write_bytes("Who?\n".encode("utf-16"))
    with pytest.raises(DataFormatError, match="wide.txt is UTF-16 text; convert it to UTF-8"):
        read_text(wide)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"first?\nsecond?\nthird \xff?\n")
    with pytest.raises(DataFormatError, match=r"bad.txt: not UTF-8 text \(line 3, byte 21\)"):
        read_text(bad)


def test_a_compressed_file_not_named_so_is_said_to_be_one(tmp_path: Path) -> None:
    """It had been "not UTF-8 text (line 1, byte 1)"."""
    import gzip
    import lzma

    from qa.core.text import read_text

    for packer, kind in ((gzip.compress, "gz"), (lzma.compress, "xz")):
        path = tmp_path / "questions.json"
        path.write_bytes(packer(b'{"data": []}'))
        with pytest.raises(DataFormatError, match=f"questions.json is {kind}-compressed: name it with .{kind}"):
            read_text(path)
        named = path.rename(tmp_path / f"questions.json.{kind}")
        assert read_text(named) == '{"data": []}'
