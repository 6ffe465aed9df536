"""Reader work of concurrent requests, read by one thread.

Each question's passages are (question, passage) pairs for the span reader. `BatchingSpanReader`
stands in for the span reader inside the server: `read_batch` queues the pairs and waits; one
thread takes whatever has arrived within `window_s` (up to `max_pairs` pairs) and reads it, so the
workers do not fight over the cores with concurrent forward passes.

On a GPU the requests that arrived together are merged into one call (their windows sorted by
length and padded per batch once): the model runs once per batch instead of once per request. On
a CPU each request is read on its own call. The int8 model quantises its activations with one scale
per batch, so a window read beside another request's windows scored differently (by up to 0.07 on
the default collection) than read alone: the same question got another probability under load than
from `qa ask`. Merging also did not pay there: four requests of eight passages took 0.60 s merged
and 0.36 s one after another (two cores; padding to the longest window of all four).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mrc.span import ReadRequest, SpanReader
    from qa.api.metrics import Metrics
    from qa.core.types import Answer


@dataclass
class _Job:
    requests: list[Any]
    top_k: int
    allow_no_answer: bool
    done: threading.Event = field(default_factory=threading.Event)
    result: list[list[Answer]] | None = None
    error: BaseException | None = None


class BatchingSpanReader:
    """A `SpanReader` whose `read_batch` calls from several threads are merged into batches."""

    def __init__(self, inner: SpanReader, *, window_s: float = 0.003, max_pairs: int = 64,
                 metrics: Metrics | None = None) -> None:
        self.inner = inner
        self.window_s = window_s
        self.max_pairs = max_pairs
        self.metrics = metrics
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # model, tokenizer, calibrate, null_threshold, ...
        return getattr(self.inner, name)

    def read(self, question: str, context: str, *, top_k: int = 1, source_id: str | None = None,
             title: str | None = None, allow_no_answer: bool = True) -> list[Answer]:
        from mrc.span import ReadRequest

        return self.read_batch([ReadRequest(question, context, source_id, title)], top_k=top_k,
                              allow_no_answer=allow_no_answer)[0]

    def read_batch(self, requests: Sequence[ReadRequest | tuple[str, str]], *, top_k: int = 1,
                  allow_no_answer: bool = True, progress: Any = None) -> list[list[Answer]]:
        if progress is not None or not requests or self.window_s <= 0:
            return self.inner.read_batch(requests, top_k=top_k, allow_no_answer=allow_no_answer, progress=progress)
        self._ensure_thread()
        job = _Job(list(requests), top_k, allow_no_answer)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    # ------------------------------------------------------------------ the batching thread
    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="qa-reader-batcher", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            jobs = [first]
            pairs = len(first.requests)
            deadline = time.perf_counter() + self.window_s
            while pairs < self.max_pairs:
                left = deadline - time.perf_counter()
                try:
                    job = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                jobs.append(job)
                pairs += len(job.requests)
            self._run(jobs)

    @property
    def merges(self) -> bool:
        """Whether requests that arrive together are read in one call: only when the reader runs on
        a GPU (the device its model was loaded on; a `cuda` setting without one runs on the CPU)."""
        device = getattr(self.inner, "_device", None)
        return getattr(device, "type", None) == "cuda"

    def _run(self, jobs: list[_Job]) -> None:
        if not self.merges:
            for j in jobs:
                if self.metrics is not None:
                    self.metrics.batch_pairs.observe(len(j.requests))
                    self.metrics.batch_requests.observe(1)
                self._run_alone(j)
            return
        groups: dict[tuple[int, bool], list[_Job]] = {}
        for j in jobs:
            groups.setdefault((j.top_k, j.allow_no_answer), []).append(j)
        for (top_k, allow), group in groups.items():
            merged = [r for j in group for r in j.requests]
            if self.metrics is not None:
                self.metrics.batch_pairs.observe(len(merged))
                self.metrics.batch_requests.observe(len(group))
            try:
                answers = self.inner.read_batch(merged, top_k=top_k, allow_no_answer=allow)
            except BaseException:  # one bad request must not fail its neighbours: read them alone
                for j in group:
                    self._run_alone(j)
                continue
            pos = 0
            for j in group:
                j.result = answers[pos:pos + len(j.requests)]
                pos += len(j.requests)
                j.done.set()

    def _run_alone(self, job: _Job) -> None:
        try:
            job.result = self.inner.read_batch(job.requests, top_k=job.top_k, allow_no_answer=job.allow_no_answer)
        except BaseException as exc:  # handed to the waiting request, which raises it
            job.error = exc
        job.done.set()
