import pytest

from retrieval.chunking import chunk_text


def test_short_text_is_one_chunk() -> None:
    assert chunk_text("  hello world  ", 100, 10) == ["hello world"]
    assert chunk_text("   ", 100, 10) == []


def test_chunks_bounded_overlapping_and_cover_text() -> None:
    text = " ".join(f"Sentence number {i} says something about Zürich." for i in range(60))
    chunks = chunk_text(text, 300, 60)
    assert len(chunks) > 5
    assert all(len(c) <= 300 for c in chunks)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.split()[0] in a  # each chunk starts inside the previous one (overlap)
        assert not b[0].isspace()
    words = set(text.split())
    assert words == set(" ".join(chunks).split())


def test_invalid_sizes() -> None:
    with pytest.raises(ValueError):
        chunk_text("x", 10, 10)
