"""Shared model instances for the application: one sentence encoder and one span reader per
process and configuration, handed to every source that needs them (passage retrieval, entity
linking and path scoring, community QA), so each loads once and sources never import each other."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from qa.core.settings import Settings

if TYPE_CHECKING:
    from mrc.judge import AnswerJudge
    from mrc.span import SpanReader
    from retrieval.encoder import TextEncoder

_LOCK = threading.Lock()
_ENCODERS: dict[tuple[str, str, str], TextEncoder] = {}
_READERS: OrderedDict[tuple, SpanReader] = OrderedDict()
# span readers kept for settings other than the latest few: a service building engines with a
# reader setting of each tenant's (a threshold, a batch size) grew by 50 MB a configuration, for good
READERS_KEPT = 4
_JUDGES: dict[tuple[str, str], AnswerJudge] = {}


def shared_encoder(settings: Settings | None = None) -> TextEncoder:
    from retrieval.encoder import TextEncoder

    settings = settings or Settings.load()
    key = (settings.encoder_model, str(settings.device), str(settings.encoder_backend))
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = TextEncoder(settings)
        return _ENCODERS[key]


def shared_span_reader(settings: Settings | None = None) -> SpanReader:
    from mrc.span import SpanReader

    settings = settings or Settings.load()
    key = (settings.span_model, str(settings.span_backend), str(settings.device), settings.null_threshold,
           settings.max_seq_length, settings.doc_stride, settings.max_answer_length, settings.batch_size)
    with _LOCK:
        if key not in _READERS:
            _READERS[key] = SpanReader(settings)
            while len(_READERS) > READERS_KEPT:  # an engine still holding an older one keeps it alive
                _READERS.popitem(last=False)
        _READERS.move_to_end(key)
        return _READERS[key]


def shared_judge(settings: Settings | None = None) -> AnswerJudge | None:
    """The answer judge community QA ranks a thread's answers with; None when the setting is empty
    or its folder is absent (answers are then ranked by the answer model and the span reader)."""
    return _shared_pair_judge(settings or Settings.load(), "cqa_judge_model", "answer judge",
                              "rank answers without the judge")


def shared_question_judge(settings: Settings | None = None) -> AnswerJudge | None:
    """The question judge community QA checks a match between two one-line questions with; None when
    the setting is empty or its folder is absent (the re-scorer's probability is then shown)."""
    from pathlib import Path

    from cqa.matcher import QUESTION_STACK

    settings = settings or Settings.load()
    judge = _shared_pair_judge(settings, "cqa_question_judge_model", "question judge",
                               "match one-line questions without it")
    if judge is not None and not (Path(judge.model_dir) / QUESTION_STACK).is_file():
        if settings.explicitly_set("cqa_question_judge_model"):
            # a folder without its combination (another kind of judge, a half-copied one) would be off silently
            from qa.core.errors import ModelNotFoundError

            raise ModelNotFoundError(f"{judge.model_dir} has no {QUESTION_STACK}: it is not a question judge "
                                     "(`qa cqa train-question-judge` writes both), or '' to match without one")
        return None
    return judge


def _shared_pair_judge(settings: Settings, field: str, what: str, without: str) -> AnswerJudge | None:
    """One loader for both judges: a folder the user named but mistyped is an error (it would be
    switched off without a word), the shipped default that is absent is simply off, and each folder
    loads once per process and device."""
    from pathlib import Path

    from mrc.judge import AnswerJudge

    value = getattr(settings, field)
    folder = str(Path(value).expanduser()) if value else ""
    if folder and not Path(folder).is_dir() and settings.explicitly_set(field):
        # a judge the user named but mistyped would be switched off without a word
        from qa.core.errors import ModelNotFoundError

        raise ModelNotFoundError(f"{what} folder not found: {folder} (QA_{field.upper()} / {field}); "
                                 f"name the folder, or '' to {without}")
    if not folder or not Path(folder).is_dir():
        return None
    key = (folder, str(settings.device))
    with _LOCK:
        if key not in _JUDGES:
            _JUDGES[key] = AnswerJudge(settings, folder, what=what,
                                       hint=f"Name its folder (QA_{field.upper()}), or '' to {without}.")
        return _JUDGES[key]
