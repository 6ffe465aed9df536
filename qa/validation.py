"""Input checks shared by the CLI, the API and the pipelines, so all reject bad input alike."""

from __future__ import annotations

from qa.errors import InputError

MAX_QUESTION_CHARS = 2_000


def check_question(text: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    if not isinstance(text, str):
        raise InputError("the question must be text")
    stripped = text.strip()
    if not stripped:
        raise InputError("the question is empty")
    if len(text) > max_chars:
        raise InputError(f"the question is {len(text):,} characters long; the limit is {max_chars:,}")
    return stripped
