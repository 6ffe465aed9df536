from pathlib import Path

from qa.cli import main


def test_qa_index_ok(corpus_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QA_CHUNK_CHARS", "400")
    monkeypatch.setenv("QA_CHUNK_OVERLAP", "50")
    assert main(["index", str(corpus_dir / "eiffel.md"), "--out", str(tmp_path / "idx")]) == 0
    assert (tmp_path / "idx" / "manifest.json").exists()


def test_qa_index_bad_input_exits_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9")
    assert main(["index", str(bad), "--out", str(tmp_path / "idx")]) == 2
    assert "bad.txt is not UTF-8" in " ".join(capsys.readouterr().err.split())  # rich wraps lines
    assert not (tmp_path / "idx").exists()
    assert main(["index", str(tmp_path / "missing"), "--out", str(tmp_path / "idx")]) == 2
    assert main(["index"]) == 2
    assert main(["index", str(bad), "--dense", "ivf"]) == 2
