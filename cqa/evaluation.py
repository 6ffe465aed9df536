"""What the benchmarks and the router need from community QA on SemEval-2016 Task 3.

* `router_questions()`: questions whose right route is cqa (training material for the router):
  the new and related questions of train-part2, and the seed's questions. Never dev.
* `semeval_dev_source()`: the CQA source over the dev file's related threads (the store the
  routed-qa and calibration benchmarks ask), with the dev new questions and their gold.
* `top_thread_correct()`: P@1 as the benchmarks define it: the thread of the top answer (or of
  the best guess, when the source abstained) is one of the new question's PerfectMatch / Relevant
  related threads.
* `calibration_pairs()`: per question (shown probability of the top match, whether it is right).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cqa.matcher import CommunityQA
from cqa.semeval import NewQuestion, load_semeval
from cqa.training import DEFAULT_DEV, DEFAULT_TRAIN, semeval_source
from qa.core.settings import Settings
from qa.core.types import Answer, Encoder


def router_questions(train_file: str | Path = DEFAULT_TRAIN, *, include_seed: bool = True) -> list[str]:
    """SemEval training questions (new and related, subject + body) and the seed's questions,
    de-duplicated, in a stable order."""
    out: dict[str, None] = {}
    for q in load_semeval(train_file):
        out[q.text] = None
        for t in q.threads:
            out[t.text] = None
    if include_seed:
        from cqa.seed import seed_questions

        out.update(dict.fromkeys(seed_questions()))
    return [q for q in out if q.strip()]


def semeval_dev_source(encoder: Encoder, *, span_reader: Any = None, judge: Any = None, question_judge: Any = None,
                       settings: Settings | None = None, dev_file: str | Path = DEFAULT_DEV,
                       ) -> tuple[CommunityQA, list[NewQuestion]]:
    """A CQA source whose store holds the dev related threads (500), and the 50 dev new questions."""
    return semeval_source(dev_file, encoder, settings=settings, span_reader=span_reader, judge=judge,
                          question_judge=question_judge)


def gold_threads(question: NewQuestion) -> set[str]:
    """Thread ids (as the store names them) of a new question's relevant related threads."""
    return {f"semeval:{t.id}" for t in question.threads if t.relevant}


def top_answer(answers: Sequence[Answer]) -> Answer | None:
    """The answer a user sees first: the top answer, or the best guess of a "no answer"."""
    if not answers:
        return None
    a = answers[0]
    return a.best_guess if a.no_answer else a


def top_thread_correct(question: NewQuestion, answers: Sequence[Answer]) -> bool:
    a = top_answer(answers)
    ev = a.evidence if a is not None else None
    return bool(ev is not None and getattr(ev, "thread_id", None) in gold_threads(question))


def calibration_pairs(source: CommunityQA, questions: Sequence[NewQuestion]) -> list[tuple[float, bool]]:
    """(probability shown for the top answer, whether its thread is relevant) per new question, asked
    over the whole store exactly as `answer` answers users (for a "no answer", its best guess)."""
    out = []
    for q in questions:
        answers = source.answer(q.text, top_k=1)
        top = top_answer(answers)
        out.append((top.score if top is not None else 0.0, top_thread_correct(q, answers)))
    return out
