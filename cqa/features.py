"""The signals the two small models read.

Thread match (is this stored thread's question the new question, or close enough that its answers
answer it?): dense similarity of the new question to the thread's title + body and to its title
alone, BM25 (normalised by the best candidate), word overlap, and how well the thread's answers
match the new question (answer relevance catches threads whose title is vague but whose answers
are on topic). Each similarity is also given relative to the best candidate of the same question,
since "the best of these ten" is what a ranking needs.

Answer quality (is this answer a good answer to its thread's question?): its similarity to the
question and to the other answers (good answers agree with each other), whether the asker wrote
it (forum askers mostly reply "thanks" or ask again), its position, length, questions, links and
thanks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cqa.text import overlap

MATCH_FEATURES = ["d_text", "d_title", "bm25_n", "jac", "cont", "ans_max", "ans_mean3",
                  "d_text_gap", "ans_mean3_gap", "bm25_gap"]
ANSWER_FEATURES = ["cos", "cen", "lex", "asker", "pos", "loglen", "qmark", "url", "thank", "at", "own_share",
                   "short", "cos_gap", "cen_gap"]

_URL = re.compile(r"https?://|www\.")
_THANK = re.compile(r"(?i)\bthank|\bthanx|\bthx\b")


@dataclass
class Candidate:
    """What the match features need about one candidate thread."""

    key: int
    tokens: list[str]
    title_tokens: list[str]
    vector: np.ndarray
    title_vector: np.ndarray
    answer_vectors: np.ndarray  # (n_answers, dim), possibly empty
    bm25: float


def match_features(q_tokens: Sequence[str], q_vector: np.ndarray, cands: Sequence[Candidate]) -> list[dict[str, float]]:
    rows: list[dict[str, float]] = []
    for c in cands:
        sims = sorted((c.answer_vectors @ q_vector).tolist(), reverse=True) if len(c.answer_vectors) else [0.0]
        jac, cont = overlap(q_tokens, c.tokens)
        rows.append({
            "d_text": float(c.vector @ q_vector), "d_title": float(c.title_vector @ q_vector), "bm25": float(c.bm25),
            "jac": jac, "cont": cont, "ans_max": float(sims[0]), "ans_mean3": float(np.mean(sims[:3])),
        })
    if rows:
        best_b = max(r["bm25"] for r in rows)
        for key in ("d_text", "ans_mean3", "bm25"):
            top = max(r[key] for r in rows)
            for r in rows:
                r[f"{key}_gap"] = (r[key] - top) / (best_b if key == "bm25" and best_b > 0 else 1.0)
        for r in rows:
            r["bm25_n"] = r["bm25"] / best_b if best_b > 0 else 0.0
    return rows


@dataclass
class AnswerInfo:
    """What the answer features need about one answer of a thread."""

    text: str
    tokens: list[str]
    vector: np.ndarray
    author: str = ""


def answer_features(q_tokens: Sequence[str], q_vector: np.ndarray, asker: str,
                    answers: Sequence[AnswerInfo]) -> list[dict[str, float]]:
    if not answers:
        return []
    vecs = np.stack([a.vector for a in answers])
    centre = vecs.mean(axis=0)
    n = len(answers)
    qset = set(q_tokens)
    rows = []
    for i, a in enumerate(answers):
        aset = set(a.tokens)
        own = sum(1 for b in answers if b.author and b.author == a.author)
        rows.append({
            "cos": float(a.vector @ q_vector), "cen": float(a.vector @ centre),
            "lex": len(qset & aset) / max(len(qset), 1),
            "asker": float(bool(asker) and a.author == asker), "pos": i / 10.0,
            "loglen": math.log1p(len(a.text)), "qmark": float("?" in a.text), "url": float(bool(_URL.search(a.text))),
            "thank": float(bool(_THANK.search(a.text))), "at": float("@" in a.text), "own_share": own / n,
            "short": float(len(a.text.split()) < 5),
        })
    for key in ("cos", "cen"):
        top = max(r[key] for r in rows)
        for r in rows:
            r[f"{key}_gap"] = r[key] - top
    return rows
