"""Evaluation jobs (`POST /v1/eval`): a SQuAD or RACE file in, a job id out; the job reads every
question with the server's readers in the background and reports progress, then the official
metrics and the predictions.

Jobs run one at a time on their own thread (an evaluation is minutes of reader work; a second one
would only halve the speed of both), at most `MAX_PENDING` wait, and the last `KEEP` finished
jobs are kept for their results. The file is checked when it is submitted, so a malformed one is
a 422 at once, not a failed job later.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.api.errors import APIError, public_message
from qa.api.models import JobState
from qa.core.errors import ConflictError, DataFormatError, NotFoundError, QAError

if TYPE_CHECKING:
    from qa.engine import Engine

KEEP = 20
MAX_PENDING = 4
CHUNK = 64


FINISHED = ("done", "failed", "cancelled")


class _Cancelled(Exception):
    """Raised in the job's thread, between the reader's batches, once the job is cancelled."""


@dataclass
class _Job:
    state: JobState
    dataset: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    na_probs: dict[str, float] = field(default_factory=dict)


def detect_kind(path: Path, kind: str) -> str:
    """squad or race: as asked, else by the shape of the file's start (SQuAD is one JSON object
    with `data`; RACE articles have `article`), and only where that says nothing by the name
    (`.jsonl`, "race"): a SQuAD file named grace-hopper.json was refused as RACE."""
    if kind in ("squad", "race"):
        return kind
    from qa.core.text import open_binary

    fh = open_binary(path)
    try:
        head = fh.read(4096).decode("utf-8", "replace")
    finally:
        fh.close()
    data, article = bool(_KEY_DATA.search(head)), bool(_KEY_ARTICLE.search(head))
    if data != article:
        return "squad" if data else "race"
    name = path.name.lower()
    return "race" if ".jsonl" in name or "race" in name else "squad"


_KEY_DATA = re.compile(r'"data"\s*:')
_KEY_ARTICLE = re.compile(r'"article"\s*:')


class JobRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._pending: queue.Queue[_Job] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, path: Path, display_name: str, kind: str, limit: int | None) -> JobState:
        """Load and check the file now (DataFormatError -> 422), then queue the job."""
        from mrc.datasets import load_race, load_squad

        try:
            kind = detect_kind(path, kind)
            if kind == "squad":
                ds: Any = load_squad(path).subset(limit)
                total = len(ds.examples)
            else:
                ds = load_race(path)
                ds = ds[:limit] if limit else ds
                total = len(ds)
        except RecursionError as exc:  # absurdly nested JSON
            raise DataFormatError(f"{display_name}: nested too deeply to be a {kind} file") from exc
        except QAError as exc:  # named by the client's file name, not the server's temporary path
            raise type(exc)(str(exc).replace(str(path), display_name)) from None
        if total == 0:
            raise DataFormatError(f"{display_name}: no questions found in this {kind} file")
        with self._lock:
            if sum(1 for j in self._jobs.values() if j.state.status in ("queued", "running")) >= MAX_PENDING:
                raise APIError(503, "overloaded", f"{MAX_PENDING} evaluations are already running or waiting; "
                                                  "retry later", headers={"Retry-After": "60"})
            job = _Job(JobState(id=uuid.uuid4().hex[:16], kind=kind, status="queued", file=display_name,
                                total=total), ds)
            self._jobs[job.state.id] = job
            while len(self._jobs) > KEEP:
                oldest = next((k for k, j in self._jobs.items() if j.state.status in FINISHED), None)
                if oldest is None:
                    break
                del self._jobs[oldest]
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="qa-eval-jobs", daemon=True)
                self._thread.start()
        self._pending.put(job)
        return job.state.model_copy()

    def get(self, job_id: str) -> JobState:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no evaluation job {job_id!r} (finished jobs are kept for the last {KEEP})")
        with job.lock:
            return job.state.model_copy(deep=True)

    def cancel(self, job_id: str) -> JobState:
        """Cancel a queued or running job: a queued one never starts, a running one stops after
        the batch it is reading. A finished job is left as it is (409)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no evaluation job {job_id!r} (finished jobs are kept for the last {KEEP})")
        with job.lock:
            if job.state.status in FINISHED:
                raise ConflictError(f"evaluation job {job_id!r} has ended ({job.state.status}); nothing to cancel")
            if job.state.status == "queued":  # its questions go now: it never starts (submit-and-cancel
                job.dataset = None            # again and again must not pile up loaded files)
            job.state = job.state.model_copy(update={"status": "cancelled"})
            return job.state.model_copy(deep=True)

    def _loop(self) -> None:
        while True:
            job = self._pending.get()
            started = time.perf_counter()
            with job.lock:
                if job.state.status == "cancelled":  # cancelled while it waited
                    job.dataset = None
                    continue
                job.state = job.state.model_copy(update={"status": "running"})
            try:
                if job.state.kind == "squad":
                    metrics, preds = self._squad(job)
                else:
                    metrics, preds = self._race(job)
                self._finish(job, status="done", metrics=metrics, predictions=preds, na_probs=job.na_probs,
                             progress=1.0, seconds=round(time.perf_counter() - started, 2))
            except _Cancelled:
                self._update(job, seconds=round(time.perf_counter() - started, 2))
            except Exception as exc:  # reported in the job, never lost in a thread
                self._finish(job, status="failed", error=public_message(exc)[:500],
                             seconds=round(time.perf_counter() - started, 2))
            job.dataset = None

    def _finish(self, job: _Job, **values: Any) -> None:
        """The job's end, unless it was cancelled meanwhile (a cancel said so to its client)."""
        with job.lock:
            if job.state.status != "cancelled":
                job.state = job.state.model_copy(update=values)

    def _update(self, job: _Job, **values: Any) -> None:
        with job.lock:
            job.state = job.state.model_copy(update=values)

    def _advance(self, job: _Job, n: int) -> None:
        with job.lock:
            if job.state.status == "cancelled":
                raise _Cancelled
            done = job.state.done + n
            job.state = job.state.model_copy(update={"done": done, "progress": min(1.0, done / job.state.total)})

    def _within(self, job: _Job, start: int, size: int) -> Callable[[int, int], None]:
        """The reader's progress through one chunk as the job's: `progress` moves with every batch
        (a chunk of RACE takes over a minute on a small CPU, and had shown 0 % all that time), and a
        cancel is seen there too."""
        def seen(done: int, total: int) -> None:
            with job.lock:
                if job.state.status == "cancelled":
                    raise _Cancelled
                at = (start + size * done / max(total, 1)) / job.state.total
                job.state = job.state.model_copy(update={"progress": round(min(1.0, at), 4)})
        return seen

    def _squad(self, job: _Job) -> tuple[dict[str, float], dict[str, str]]:
        from mrc.metrics import squad_v1_evaluate, squad_v2_evaluate
        from mrc.span import ReadRequest

        ds = job.dataset
        reader = getattr(self.engine.span_reader, "inner", self.engine.span_reader)
        v2 = ds.version == 2
        preds: dict[str, str] = {}
        probs: dict[str, float] = {}
        for i in range(0, len(ds.examples), CHUNK):
            batch = ds.examples[i:i + CHUNK]
            reqs = [ReadRequest(e.question, e.context, e.qid) for e in batch]
            read = reader.read_batch(reqs, allow_no_answer=v2, progress=self._within(job, i, len(batch)))
            for ex, answers in zip(batch, read, strict=True):
                best = answers[0]
                preds[ex.qid] = "" if best.no_answer else best.text
                probs[ex.qid] = best.score if best.no_answer else 1.0 - best.score
            self._advance(job, len(batch))
        metrics = squad_v2_evaluate(ds.data, preds, probs) if v2 else squad_v1_evaluate(ds.data, preds)
        if v2:  # what the official script's best-threshold figures are computed from (unrounded:
            job.na_probs = probs  # rounded, near-certain answers tie at 0 and the sweep reads otherwise)
        return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}, preds

    def _race(self, job: _Job) -> tuple[dict[str, float], dict[str, str]]:
        from mrc.choice import ChoiceRequest
        from mrc.datasets import LETTERS, race_levels
        from mrc.metrics import race_accuracy

        questions = job.dataset
        reader = self.engine.choice_reader
        chosen: dict[str, int] = {}
        for i in range(0, len(questions), CHUNK):
            batch = questions[i:i + CHUNK]
            reqs = [ChoiceRequest(question=q.question, article=q.article, options=q.options) for q in batch]
            probs = reader.probabilities_batch(reqs, progress=self._within(job, i, len(batch)))
            for q, p in zip(batch, probs, strict=True):
                chosen[q.qid] = max(range(len(p)), key=p.__getitem__)
            self._advance(job, len(batch))
        metrics = race_accuracy(chosen, {q.qid: q.answer for q in questions}, race_levels(questions))
        return ({k: float(v) for k, v in metrics.items() if v is not None},  # a level no question has: left out
                {qid: LETTERS[i] if i < len(LETTERS) else str(i) for qid, i in chosen.items()})
