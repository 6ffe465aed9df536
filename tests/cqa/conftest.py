"""Fixtures for the community-QA tests: a small hashing encoder (mechanics only; quality is the
semeval-cqa benchmark's job, with the real encoder), synthetic StackExchange dumps and FAQ files."""

from __future__ import annotations

import hashlib
import html
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from cqa.text import tokenize

WORDS = ("bank account visa permit salary doha school car license driving apartment rent internet phone "
         "hospital doctor insurance flight ticket passport embassy restaurant beach mall job contract").split()


class HashEncoder:
    """Bag of stemmed words hashed into 256 dimensions, L2-normalised: texts sharing words are close."""

    name = "test-hash-encoder"
    dim = 256

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, toks in enumerate(tokenize(list(texts))):
            for t in toks:
                out[i, int(hashlib.md5(t.encode()).hexdigest()[:8], 16) % self.dim] += 1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
        return out


@pytest.fixture
def encoder() -> HashEncoder:
    return HashEncoder()


def write_posts(path: Path, n_questions: int, *, answers_per_question: int = 3, seed: int = 0,
                body_words: int = 40, accepted: bool = True) -> tuple[int, int]:
    """A StackExchange-style Posts.xml: questions, then answers interleaved the way ids grow in a
    real dump (some answers arrive long after their question). Returns (questions, answers)."""
    rng = random.Random(seed)
    pid = 0
    pending: list[tuple[int, int]] = []
    n_answers = 0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n')
        for _ in range(n_questions):
            pid += 1
            qid = pid
            body = "<p>" + " ".join(rng.choice(WORDS) for _ in range(body_words)) + " &amp; more?</p>"
            title = f"How do I get a {rng.choice(WORDS)} for my {rng.choice(WORDS)} ({qid})?"
            acc = f' AcceptedAnswerId="{qid + 1}"' if accepted and answers_per_question else ""
            fh.write(f'  <row Id="{qid}" PostTypeId="1"{acc} CreationDate="2020-01-01T00:00:00" Score="3" '
                     f'Body="{html.escape(body)}" Title="{html.escape(title)}" Tags="&lt;{rng.choice(WORDS)}&gt;" '
                     f'OwnerUserId="{rng.randint(1, 50)}" />\n')
            for j in range(answers_per_question):
                pid += 1
                pending.append((pid, qid))
                if j == 0 or rng.random() < 0.5:
                    aid, parent = pending.pop(0)
                    text = "<p>" + " ".join(rng.choice(WORDS) for _ in range(body_words)) + "</p>"
                    fh.write(f'  <row Id="{aid}" PostTypeId="2" ParentId="{parent}" Score="{rng.randint(-2, 20)}" '
                             f'Body="{html.escape(text)}" CreationDate="2020-01-02T00:00:00" />\n')
                    n_answers += 1
        for aid, parent in pending:
            fh.write(f'  <row Id="{aid}" PostTypeId="2" ParentId="{parent}" Score="1" Body="late answer {aid}" />\n')
            n_answers += 1
        fh.write("</posts>\n")
    return n_questions, n_answers
