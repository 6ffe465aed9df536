"""Shared fixtures: a tiny real corpus and a real index built from it once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.core.settings import Settings

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(index_dir=str(tmp_path_factory.mktemp("idx") / "index"), chunk_chars=300, chunk_overlap=50)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    (d / "eiffel.md").write_text(
        "# Eiffel Tower\n\nThe Eiffel Tower is a wrought-iron lattice tower in Paris, France. "
        "It was completed in 1889 for the World's Fair.\n",
        encoding="utf-8",
    )
    (d / "cats.html").write_text(
        "<html><head><title>Cats</title><style>p {color: red}</style></head><body>"
        "<h1>Domestic cat</h1><p>The cat is a small <b>carnivorous</b> mammal &amp; a pet.</p>"
        "<script>var secret = 'hidden';</script></body></html>",
        encoding="utf-8",
    )
    (d / "moon.jsonl").write_text(
        '{"id": "moon", "title": "Moon", "text": "The Moon orbits the Earth about every 27 days."}\n'
        '{"title": "Zürich", "text": "Zürich is the largest city in Switzerland — über 400,000 people."}\n',
        encoding="utf-8",
    )
    sub = d / "sub"
    sub.mkdir()
    (sub / "python.txt").write_text(
        "Python is a programming language created by Guido van Rossum and first released in 1991.",
        encoding="utf-8",
    )
    (d / ".hidden.txt").write_text("never indexed", encoding="utf-8")
    (d / "ignored.csv").write_text("a,b", encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def built_index(corpus_dir: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from retrieval.ingest import index_path

    out = tmp_path_factory.mktemp("built") / "index"
    folder, _ = index_path(corpus_dir, out, settings, progress=False)
    return folder
