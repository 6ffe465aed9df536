"""The embedded default: answered English questions shipped by the `chatterbot-corpus` package
(BSD-3-Clause), imported into the user's store the first time community QA is used.

Only the categories that are questions with answers are taken (trivia, science, history,
computers, programming, technical support, money, health, sports, films, food, literature,
AI); chit-chat about the bot itself ("are you sentient?") is left out, so the seed answers
questions a user might really ask rather than small talk. Alternative answers to one question
become the answers of one thread; the first is marked accepted. A few conversations "answer" with
a bare pronoun ("how far is the moon" -> "it", beside the real answer in another conversation);
those say nothing on their own and would be the accepted answer, so they are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.core.errors import DataFormatError

SOURCE = "seed:chatterbot-corpus"
CATEGORIES = ("trivia", "science", "history", "computers", "coding", "tech_support", "money", "health", "sports",
              "movies", "food", "literature", "ai")
_PERSONA = re.compile(r"(?i)\b(you|your|yours|yourself|u|ur|are we|do we)\b")
_QUESTION = re.compile(r"(?i)^(who|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could|should|"
                       r"would|will|in what|in which|name|according)\b")
_CONTENTLESS = re.compile(r"(?i)^(it|this|that|these|those|they|them|he|him|she|her)\W*$")


def corpus_dir() -> Path | None:
    try:
        import chatterbot_corpus
    except ImportError:
        return None
    folder = Path(chatterbot_corpus.__file__).resolve().parent / "data" / "english"
    return folder if folder.is_dir() else None


def _askable(question: str, category: str) -> bool:
    q = question.strip()
    if len(q) < 8 or _PERSONA.search(q):
        return False
    return category == "tech_support" or q.endswith("?") or bool(_QUESTION.match(q))


def seed_records(folder: Path | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, {"question", "answers", "tags"}) for every askable question of the seed categories,
    answers of repeated questions merged in order."""
    import yaml

    folder = folder or corpus_dir()
    if folder is None:
        return
    merged: dict[str, dict[str, Any]] = {}
    for cat in CATEGORIES:
        path = folder / f"{cat}.yml"
        if not path.exists():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise DataFormatError(f"{path}: not valid YAML ({exc})") from None
        for conv in data.get("conversations") or []:
            if not isinstance(conv, list) or len(conv) < 2 or not all(isinstance(x, str | int | float) for x in conv):
                continue
            question = str(conv[0]).strip()
            answers = [a for a in (str(x).strip() for x in conv[1:]) if a and not _CONTENTLESS.match(a)]
            if not answers or not _askable(question, cat):
                continue
            key = " ".join(question.lower().split()).rstrip("?. ")
            rec = merged.setdefault(key, {"question": question, "answers": [], "tags": [cat.replace("_", " ")]})
            rec["answers"].extend(a for a in answers if a not in rec["answers"])
    for i, rec in enumerate(merged.values()):
        yield f"chatterbot-corpus[{i}]", rec


def seed_questions() -> list[str]:
    """The seed's questions (training material for the router's cqa class)."""
    return [rec["question"] for _, rec in seed_records()]
