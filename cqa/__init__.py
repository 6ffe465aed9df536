"""Community QA: answer a new question from already-answered ones (forum threads, StackExchange
posts, FAQ entries).

A source package: it imports only `qa.core` (the encoder and the span reader are injected by the
application). `cqa.store` keeps threads in SQLite, `cqa.importers` fills it, `cqa.index` searches
it (FAISS + BM25), `cqa.matcher.CommunityQA` is the answer source, `cqa.training` fits its two
small models on SemEval-2016 Task 3 training data.
"""

from enum import StrEnum


class TrainedModels(StrEnum):
    """Which of the models `train_models` refits: the thread re-scorer (subtask B, the shown
    probability) and the answer models (subtask A) depend on different things, and a new span
    reader or judge calls for the answer models alone."""

    ALL = "all"
    RESCORER = "rescorer"
    ANSWERS = "answers"
