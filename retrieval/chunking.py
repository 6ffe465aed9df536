"""Split long texts into overlapping passages.

The encoder reads at most 256 word pieces (about 1,000-1,200 characters of English), and the
reader works best on paragraph-sized evidence, so documents are cut into chunks of about
`chunk_chars` characters. Chunks overlap by `chunk_overlap` characters so an answer that
straddles a cut is still whole in one chunk. Cuts prefer paragraph, then sentence, then word
boundaries, so chunks do not start or end mid-word.
"""

from __future__ import annotations

import re

_PARA = re.compile(r"\n\s*\n")
_SENT = re.compile(r"(?<=[.!?。])\s+")
_SPACE = re.compile(r"\s+")


def _cut_point(text: str, start: int, limit: int) -> int:
    """The best end offset for a chunk starting at `start` that is at most `limit` long."""
    end = start + limit
    if end >= len(text):
        return len(text)
    window = text[start:end]
    floor = limit // 2  # never cut so early that chunks become tiny
    for pattern in (_PARA, _SENT, _SPACE):
        cut = -1
        for m in pattern.finditer(window):
            if m.start() >= floor:
                cut = m.start()
        if cut > 0:
            return start + cut
    return end


def _next_start(text: str, end: int, overlap: int, prev_start: int) -> int:
    """Step back `overlap` characters from `end`, then forward to a word start."""
    start = max(end - overlap, prev_start + 1)
    if start <= 0 or start >= len(text):
        return start
    if not text[start - 1].isspace():
        m = _SPACE.search(text, start, end)
        if m:
            start = m.end()
    while start < len(text) and text[start].isspace():
        start += 1
    return start


def chunk_text(text: str, chunk_chars: int = 1200, chunk_overlap: int = 200) -> list[str]:
    """Cut `text` into chunks of at most `chunk_chars` characters overlapping by about `chunk_overlap`.

    A text that fits in one chunk comes back whole (stripped); empty text gives no chunks.
    """
    if chunk_chars <= 0:
        raise ValueError("chunk_chars must be positive")
    if not 0 <= chunk_overlap < chunk_chars:
        raise ValueError("chunk_overlap must be at least 0 and less than chunk_chars")
    text = text.strip()
    if not text:
        return []
    if len(text) <= chunk_chars:
        return [text]
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = _cut_point(text, start, chunk_chars)
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        start = _next_start(text, end, chunk_overlap, start)
    return chunks
