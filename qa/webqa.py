"""WebQA: question -> hybrid retrieval -> span reader -> ranked answers with their evidence.

Answers from different passages are ranked by the reader's unnormalised span scores (comparable
across passages, unlike per-passage probabilities); the same answer found in several passages
is merged into one, keeping the best-scored evidence and listing the other sources.
"""

from __future__ import annotations

import time
from pathlib import Path

from mrc.metrics import normalize_answer
from mrc.span import ReadRequest, SpanReader
from qa.settings import Settings
from qa.types import Answer
from qa.validation import check_question


class WebQA:
    """Loads the index and the reader lazily, once, so the CLI, the API and the UI share them."""

    def __init__(self, settings: Settings | None = None, index_dir: str | Path | None = None,
                 reader: SpanReader | None = None) -> None:
        self.settings = settings or Settings.load()
        self._index_dir = Path(index_dir) if index_dir else None
        self._retriever = None
        self._reader = reader

    @property
    def index_dir(self) -> Path:
        if self._index_dir is None:
            from retrieval.default import default_index

            self._index_dir = default_index(self.settings)
        return self._index_dir

    @property
    def retriever(self):
        if self._retriever is None:
            from retrieval.hybrid import HybridRetriever

            self._retriever = HybridRetriever.from_index_dir(self.index_dir, self.settings)
        return self._retriever

    @property
    def reader(self) -> SpanReader:
        if self._reader is None:
            self._reader = SpanReader(self.settings)
        return self._reader

    def ask(self, question: str, top_k: int | None = None, read_k: int | None = None) -> list[Answer]:
        """Best answers first; a single no-answer `Answer` when no passage holds one."""
        question = check_question(question, self.settings.max_question_chars)
        top_k = top_k or self.settings.top_k
        read_k = read_k or self.settings.read_k
        t0 = time.perf_counter()
        hits = self.retriever.search(question, k=read_k)
        t1 = time.perf_counter()
        if not hits:
            return [Answer.none("webqa", score=1.0, timings={"retrieve_s": t1 - t0})]
        reqs = [ReadRequest(question, h.text, source_id=h.id, title=h.title) for h in hits]
        answers = self.reader.read_passages(question, reqs, top_k=max(top_k * 3, 10))
        t2 = time.perf_counter()
        timings = {"retrieve_s": t1 - t0, "read_s": t2 - t1, "total_s": t2 - t0}
        by_id = {h.id: h for h in hits}
        merged: dict[str, Answer] = {}
        out: list[Answer] = []
        for a in answers:
            a.route = "webqa"
            a.timings = dict(timings)
            hit = by_id.get(a.source_id or "")
            if hit is not None:
                a.extra.update(source=hit.source, retrieval_score=hit.score, retrieval_ranks=hit.ranks)
            if a.no_answer:
                out.append(a)
                continue
            key = normalize_answer(a.text) or a.text
            if key in merged:
                merged[key].extra.setdefault("also_in", []).append(a.source_id)
                continue
            merged[key] = a
            out.append(a)
        return out[:top_k]
