"""The REST API over the engine (FastAPI; OpenAPI at /openapi.json, docs at /docs).

One process holds one `Engine`: the models load once at start-up and every request shares them.
Requests are admitted through `Admission` (bounded workers and queue, 503 + Retry-After beyond
it, timeouts), reader work of concurrent requests is merged into batches (`BatchingSpanReader`),
and every failure is a JSON error body (`qa.api.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from fastapi.responses import Response as HTTPResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.routing import Match

from cqa.store import content_id
from qa.api import errors
from qa.api.batching import BatchingSpanReader
from qa.api.limits import (
    API_KEY_HEADER,
    BODY_REFUSED_KEY,
    CLIENT_GONE,
    CLIENT_GONE_KEY,
    OVER_CAPACITY_KEY,
    STARTED_KEY,
    Admission,
    BodyLimit,
    KeyFirst,
    SameSite,
    check_key,
)
from qa.api.logs import RequestLog
from qa.api.metrics import Metrics
from qa.api.models import (
    COLLECTION_PATTERN,
    EXISTING_ID_PATTERN,
    AcceptedAnswerIn,
    AcceptIn,
    AddDocumentsRequest,
    AddDocumentsResponse,
    AnswerIn,
    AnswerOut,
    AskRequest,
    CollectionsResponse,
    DeleteDocumentResponse,
    ErrorBody,
    Health,
    JobState,
    PassageOut,
    ReadRequest,
    ReadResponse,
    SearchRequest,
    SearchResponse,
    ThreadDeleted,
    ThreadDetail,
    ThreadIn,
    ThreadList,
    ThreadOut,
)
from qa.core.atomic import recover_interrupted
from qa.core.errors import ConflictError, InputError, NotFoundError, QAError, unavailable_as
from qa.core.settings import Settings, loopback
from qa.core.text import decompress_capped, other_encoding
from qa.core.types import Question, Response, Route

if TYPE_CHECKING:
    from cqa.matcher import CommunityQA
    from cqa.store import Thread

log = logging.getLogger("qa.api")
API_VERSION = "v1"
READY_PATH = f"/{API_VERSION}/ready"
T = TypeVar("T")
UNPACKED_PER_BODY = 4  # a compressed upload may unpack to this many times the body limit, no more
# the methods counted by name in the metrics; any other (HTTP allows any token) is "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Bad input (empty, not UTF-8, malformed JSON)", 401: "API key missing", 403: "API key wrong",
            404: "Not found", 408: "The body did not arrive whole in time", 409: "Clashes with what is stored",
            413: "Body too large", 415: "The body is not sent as JSON", 422: "Invalid field or data",
            503: "Overloaded (see Retry-After)", 504: "Timed out", 500: "Internal error"}
    return {c: {"model": ErrorBody, "description": text.get(c, "Error")} for c in codes}


COMMON = (400, 422, 500, 503, 504)
JSON_BODY = (*COMMON, 408, 415)  # a JSON endpoint: its body late, or sent as another content type


def package_version() -> str:
    """The release (pyproject.toml reads it from `qa.__version__`, so the two cannot differ)."""
    from qa import __version__

    return __version__


def _unsupported_media(request: Request) -> HTTPResponse | None:
    """415 for a JSON endpoint sent another content type (curl's `-d` sends a form by default),
    instead of a puzzling "Input should be a valid dictionary" about a body that is JSON."""
    path = request.url.path
    if request.method != "POST" or not path.startswith(f"/{API_VERSION}/") or path == f"/{API_VERSION}/eval":
        return None
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        return None
    if not ctype:  # no type, no body: the missing fields say what to send; a body of no type was ignored
        sized = request.headers.get("content-length", "0").strip() not in ("", "0")
        if not sized and "transfer-encoding" not in request.headers:
            return None
    said = f"not {ctype}" if ctype else "none was sent"
    return errors.error_response(415, "unsupported_media_type", f"send the body as JSON with the header "
                                 f"'Content-Type: application/json' ({said})")


def create_app(settings: Settings | None = None, *, engine: Any = None, warm: bool = True) -> FastAPI:
    """The API app. `engine` may be given (tests); otherwise one is built from `settings`, with a
    span reader that batches the reader work of concurrent requests."""
    from qa.api.jobs import JobRunner
    from qa.engine import Engine

    settings = settings or Settings.load()
    metrics = Metrics()
    max_body = int(settings.api_max_body_mb * 1e6)
    owns_engine = engine is None  # one given is its owner's to close
    if engine is None:
        from qa.models import shared_span_reader

        reader = BatchingSpanReader(shared_span_reader(settings), window_s=settings.api_batch_window_ms / 1000,
                                    metrics=metrics)
        engine = Engine(settings, span_reader=reader, private_failures=True)  # type: ignore[arg-type]
    admission = Admission(settings.api_workers, settings.api_queue, settings.api_queue_timeout_s,
                          settings.request_timeout_s, metrics)
    jobs = JobRunner(engine)
    ready: dict[str, bool] = {str(r): False for r in engine.routes}
    state = {"warm": not warm}  # without warming up, sources load on first use: nothing to wait for

    def warm_up() -> None:
        for route in engine.routes:  # one by one: health shows each ready as it loads
            ready[str(route)] = engine.warm_source(route) is None  # a missing graph or index: it answers with its error
        if len(engine.routes) > 1:
            with contextlib.suppress(Exception):
                _ = engine.router.classifier
        try:  # the first multiple-choice request waited 8 s for it, after /v1/ready said 200
            if settings.api_load_choice_reader:
                engine.choice_reader.warm_up()
        except Exception as exc:  # noqa: BLE001 - /v1/read with options then says why
            log.warning("the multiple-choice reader did not load: %s", exc)
        state["warm"] = True

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for note in recover_interrupted(Path(settings.index_dir)):
            log.warning("%s", note)
        task = asyncio.get_running_loop().run_in_executor(None, warm_up) if warm else None
        yield
        if task is not None:
            task.cancel()
        if admission.running:
            log.warning("stopping: waiting up to %g s for the work of %d request(s) to end", settings.request_timeout_s,
                        admission.running)
        left = await admission.drain(settings.request_timeout_s)
        if left:
            log.warning("stopped with the work of %d request(s) unfinished (nothing half-written)", left)
        elif owns_engine and (task is None or task.done()):
            # nothing uses the sources now (a warm-up still loading them would open them again):
            # stores are closed, their logs folded into their files
            engine.close()

    from fastapi_offline import FastAPIOffline  # /docs and /redoc from packaged files, not a CDN

    async def watch_client(request: Request) -> None:
        """Lets a request queued for a worker see that its client has gone (the server's protocol
        marks the request's scope when the connection is lost)."""
        scope = request.scope

        async def gone() -> bool:
            return bool(scope.get(CLIENT_GONE_KEY))

        CLIENT_GONE.set(gone)

    app = FastAPIOffline(
        title="offline-qa", version=package_version(), lifespan=lifespan, dependencies=[Depends(watch_client)],
        redirect_slashes=False,
        description="Questions answered from your passages (WebQA), knowledge graphs (KBQA) and answered "
                    "questions (CQA); readers called directly; documents added live; evaluation jobs. "
                    f"Writes need the API key in the `{API_KEY_HEADER}` header when the server has one (and reads "
                    "too when it is started with QA_API_KEY_FOR_READS=true); the operations that need it on this "
                    "server are marked so.",
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.admission = admission
    app.state.jobs = jobs
    errors.install(app)
    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="The server's API key.")

    # (defaults, not Annotated: `key_header` is local, which string annotations cannot see)
    def keyed(key: str | None = Depends(key_header)) -> None:
        check_key(settings.api_key, key)

    def open_access() -> None:
        """No key asked here: the schema marks only the operations that need one on this server."""

    write_key = keyed if settings.api_key else open_access
    read_key = keyed if settings.api_key and settings.api_key_for_reads else open_access

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> HTTPResponse:
        started = time.perf_counter()
        refused = _unsupported_media(request)
        if request.scope.get(OVER_CAPACITY_KEY):
            over = admission.over_capacity()
            refused = errors.error_response(over.status, over.kind, str(over), headers=over.headers)
        try:
            response = refused or await call_next(request)
        except Exception:  # answered as a 500 by the error handler outside: counted here all the same
            _count(request, "500", started)
            raise
        if request.url.path == "/redoc":  # the packaged ReDoc shows its maker's logo from a CDN: images
            response.headers["Content-Security-Policy"] = "img-src 'self' data:"  # from this server only
        # a body over the limit or late, streamed, reaches the client as 413 or 408 (BodyLimit) though the
        # app said 400
        _count(request, str(request.scope.get(BODY_REFUSED_KEY) or response.status_code), started,
               refused=refused is not None)
        return response

    def _count(request: Request, status: str, started: float, *, refused: bool = False) -> None:
        route = request.scope.get("route")
        endpoint = getattr(route, "path", None) or (request.url.path if refused and request.url.path in paths
                                                     else "unmatched")
        method = request.method if request.method in _METHODS else "other"  # any token is a method to HTTP
        metrics.requests.labels(method, endpoint, status).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        # readiness's 503 (models still loading) is its answer, not a failure: an error-rate alert fired on every start
        if int(status) >= 400 and not (endpoint == READY_PATH and status == "503"):
            metrics.errors.labels(endpoint, status).inc()

    paths: set[str] = set()  # filled once the routes below exist

    # ------------------------------------------------------------------ questions
    @app.post(f"/{API_VERSION}/ask", response_model=Response, responses=_errors(*JSON_BODY, 401, 403, 404, 413),
              dependencies=[Depends(read_key)], tags=["questions"])
    async def ask(body: AskRequest) -> Response:
        """Answers to a question, routed (or from the route given), with typed evidence, the route and
        why, timings, and the rewritten question when `history` made it a follow-up."""
        q = Question(body.question, history=body.flat_history(), collection=body.collection,
                     max_chars=settings.max_question_chars)
        resp: Response = await admission.run(functools.partial(engine.ask, q, top_k=body.top_k, route=body.route))
        metrics.route_latency.labels(str(resp.routing.chosen)).observe(resp.timings.get("total_s", 0.0))
        return resp

    @app.post(f"/{API_VERSION}/read", response_model=ReadResponse, responses=_errors(*JSON_BODY, 401, 403, 413),
              dependencies=[Depends(read_key)], tags=["questions"])
    async def read(body: ReadRequest) -> ReadResponse:
        """The readers called directly: a span of `context`, or the most likely of `options`."""
        if body.options is not None and len(body.options) < 2:
            raise InputError("give at least two options (or none for span extraction)")
        started = time.perf_counter()
        answers = await admission.run(functools.partial(engine.read, body.question, body.context, body.options,
                                                        top_k=body.top_k))
        for a in answers:  # four places, as /v1/ask gives them
            a.score = round(a.score, 4)
            if a.best_guess is not None:
                a.best_guess.score = round(a.best_guess.score, 4)
        return ReadResponse(answers=answers, timings={"total_s": round(time.perf_counter() - started, 4)})

    @app.post(f"/{API_VERSION}/search", response_model=SearchResponse,
              responses=_errors(*JSON_BODY, 401, 403, 404, 413), dependencies=[Depends(read_key)], tags=["documents"])
    async def search(body: SearchRequest) -> SearchResponse:
        """The passages a question would be read from, best first (retrieval only)."""
        hits = await admission.run(functools.partial(engine.search, body.query, body.k, collection=body.collection))
        return SearchResponse(passages=[PassageOut(id=h.id, title=h.title, text=h.text, source=h.source,
                                                   collection=h.collection, score=float(h.score)) for h in hits])

    # ------------------------------------------------------------------ documents
    @app.get(f"/{API_VERSION}/collections", response_model=CollectionsResponse,
             responses=_errors(*COMMON, 401, 403), dependencies=[Depends(read_key)], tags=["documents"])
    async def collections() -> CollectionsResponse:
        return CollectionsResponse(collections=await admission.run(engine.collections))

    @app.post(f"/{API_VERSION}/documents", response_model=AddDocumentsResponse, status_code=201,
              responses=_errors(*JSON_BODY, 401, 403, 409, 413), dependencies=[Depends(write_key)],
              tags=["documents"])
    async def add_documents(body: AddDocumentsRequest) -> AddDocumentsResponse:
        """Add documents to a collection of your own (created when new): chunked, encoded and
        searchable when this returns; a crash part-way leaves the collection as it was."""
        from retrieval.documents import Document

        docs = []
        seen: set[str] = set()
        for i, d in enumerate(body.documents):
            if not d.text.strip():  # it would make no passage, yet be listed as added
                raise InputError(f"documents[{i}]{f' ({d.id!r})' if d.id else ''} has no text (only spaces)")
            doc_id = d.id or f"doc-{uuid.uuid4().hex[:12]}"
            if doc_id in seen:
                raise InputError(f"document id {doc_id!r} occurs twice in this request")
            seen.add(doc_id)
            docs.append(Document(doc_id=doc_id, text=d.text, title=d.title, source=d.source or f"api:{doc_id}",
                                 metadata=dict(d.metadata)))
        passages = await admission.run(engine.add_documents, body.collection, docs, write=True)
        return AddDocumentsResponse(collection=body.collection, documents=[d.doc_id for d in docs], passages=passages)

    @app.delete(f"/{API_VERSION}/documents/{{doc_id:path}}", response_model=DeleteDocumentResponse,
                responses=_errors(*COMMON, 401, 403, 404), dependencies=[Depends(write_key)], tags=["documents"])
    async def delete_document(
        doc_id: Annotated[str, PathParam(pattern=EXISTING_ID_PATTERN)],
        collection: Annotated[str | None, Query(pattern=COLLECTION_PATTERN)] = None,
    ) -> DeleteDocumentResponse:
        """Delete a document (all its passages) from a collection of your own."""
        name, n = await admission.run(functools.partial(engine.delete_document, doc_id, collection), write=True)
        return DeleteDocumentResponse(collection=name, document=doc_id, passages=n)

    # ------------------------------------------------------------------ community QA
    # thread ids hold what a file gave them ("faq:help:billing/refund"): `:path` takes a '/' (or a
    # %2F, which the server decodes first) as part of the id instead of as the end of the route
    def community() -> CommunityQA:
        """The community-QA source, or 404 when this engine has none."""
        if Route.CQA not in engine.routes:
            raise NotFoundError("community QA is not available in this server")
        src = engine.source(Route.CQA)
        if not hasattr(src, "add_question"):
            raise NotFoundError("this server's community-QA source does not take new threads")
        return src

    @app.post(f"/{API_VERSION}/threads", response_model=ThreadOut, status_code=201,
              responses=_errors(*JSON_BODY, 401, 403, 404, 413, 503), dependencies=[Depends(write_key)],
              tags=["community"])
    async def add_thread(body: ThreadIn) -> ThreadOut:
        """File a question (optionally with its answer) in the community-QA store; answerable at once."""
        def add() -> ThreadOut:
            src = community()
            tid = src.add_question(body.question, body.body, answer=body.answer, accepted=body.accepted,
                                   source="api", tags=tuple(body.tags))
            # the answer this request filed: a question sent again may hold others already, and the
            # store took this one as one of them when only case or spacing differ (`content_id`)
            said = content_id(body.answer) if body.answer is not None else None
            answers = [a for a in src.store.thread(tid).answers if content_id(a.text) == said]
            return ThreadOut(thread_id=tid, answer_id=answers[-1].id if answers else None)

        return await admission.run(in_cqa(add), write=True)

    @app.post(f"/{API_VERSION}/threads/{{thread_id:path}}/answers", response_model=AnswerOut, status_code=201,
              responses=_errors(*JSON_BODY, 401, 403, 404, 413, 503), dependencies=[Depends(write_key)],
              tags=["community"])
    async def add_thread_answer(thread_id: str, body: AnswerIn) -> AnswerOut:
        """Add an answer to a stored thread (an imported one too)."""
        def add() -> AnswerOut:
            aid = community().add_answer(thread_id, body.text, accepted=body.accepted, votes=body.votes)
            return AnswerOut(thread_id=thread_id, answer_id=aid)

        return await admission.run(in_cqa(add), write=True)

    @app.post(f"/{API_VERSION}/threads/{{thread_id:path}}/accept", response_model=AnswerOut,
              responses=_errors(*JSON_BODY, 401, 403, 404, 413, 503), dependencies=[Depends(write_key)],
              tags=["community"])
    async def accept_thread_answer(thread_id: str, body: AcceptIn) -> AnswerOut:
        """Make one answer of a thread its accepted answer, the one shown (a later re-import of an
        unchanged file keeps it)."""
        def accept() -> AnswerOut:
            community().accept_answer(thread_id, body.answer_id)
            return AnswerOut(thread_id=thread_id, answer_id=body.answer_id)

        return await admission.run(in_cqa(accept), write=True)

    def in_cqa(work: Callable[[], T]) -> Callable[[], T]:
        """A store or model of the source that does not load is the server's trouble, told as
        `/v1/ask` tells it (503, no server path to the client), not a client's malformed file."""
        def run() -> T:
            with unavailable_as(str(Route.CQA)):
                return work()

        return run

    def detail(t: Thread) -> ThreadDetail:
        return ThreadDetail.model_validate(t.record())

    @app.get(f"/{API_VERSION}/threads", response_model=ThreadList, responses=_errors(*COMMON, 401, 403, 404, 503),
             dependencies=[Depends(read_key)], tags=["community"])
    async def list_threads(source: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 20,
                           offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> ThreadList:
        """The threads stored latest first (of one source where named), with their answers."""
        def read() -> ThreadList:
            store = community().store
            if source is not None and source not in store.sources():
                raise NotFoundError(f"no source {source!r} in the community-QA store")
            return ThreadList(threads=[detail(t) for t in store.newest(limit, source=source, offset=offset)])

        return await admission.run(in_cqa(read))

    @app.get(f"/{API_VERSION}/threads/{{thread_id:path}}", response_model=ThreadDetail,
             responses=_errors(*COMMON, 401, 403, 404, 503), dependencies=[Depends(read_key)], tags=["community"])
    async def get_thread(thread_id: str) -> ThreadDetail:
        """A stored thread whole: its question and every answer with its id."""
        return await admission.run(in_cqa(lambda: detail(community().store.thread(thread_id))))

    # the answer's route first: `{thread_id:path}` alone would take "<id>/answers/<answer_id>" as an id
    @app.delete(f"/{API_VERSION}/threads/{{thread_id:path}}/answers/{{answer_id}}", response_model=ThreadDeleted,
                responses=_errors(*COMMON, 401, 403, 404, 409, 503), dependencies=[Depends(write_key)],
                tags=["community"])
    async def delete_thread_answer(thread_id: str, answer_id: str) -> ThreadDeleted:
        """Delete one answer of a thread (a wrong one); the thread shows its next best answer, or none.
        An answer of an imported file comes back when the file is imported again."""
        def delete() -> ThreadDeleted:
            src = community()
            whole = f"{thread_id}/answers/{answer_id}"  # a thread id may hold "/answers/" (a file's own ids)
            try:
                src.store.key_of(whole)
            except NotFoundError:
                gone = src.delete_answer(thread_id, answer_id)
                return ThreadDeleted(thread_id=thread_id, answer_id=gone.id, answers=1)
            try:
                also = any(a.id == answer_id for a in src.store.thread(thread_id).answers)
            except NotFoundError:
                also = False
            if also:
                raise ConflictError(f"{whole!r} names a thread and an answer of the thread {thread_id!r}; which "
                                    "one goes is not for the server to guess: `qa cqa delete` on the server says")
            thread = src.delete_thread(whole)
            return ThreadDeleted(thread_id=thread.uid, answers=len(thread.answers))

        return await admission.run(in_cqa(delete), write=True)

    @app.delete(f"/{API_VERSION}/threads/{{thread_id:path}}", response_model=ThreadDeleted,
                responses=_errors(*COMMON, 401, 403, 404, 503), dependencies=[Depends(write_key)],
                tags=["community"])
    async def delete_thread(thread_id: str) -> ThreadDeleted:
        """Delete a thread with its answers; out of every match from the next question on. A thread of
        an imported file comes back when the file is imported again."""
        def delete() -> ThreadDeleted:
            gone = community().delete_thread(thread_id)
            return ThreadDeleted(thread_id=gone.uid, answers=len(gone.answers))

        return await admission.run(in_cqa(delete), write=True)

    @app.post(f"/{API_VERSION}/threads/accepted", response_model=ThreadOut, status_code=201,
              responses=_errors(*JSON_BODY, 401, 403, 404, 413, 503), dependencies=[Depends(write_key)],
              tags=["community"])
    async def file_accepted_answer(body: AcceptedAnswerIn) -> ThreadOut:
        """An answer a user accepted for their question, filed so the next person asking gets it."""
        def file() -> ThreadOut:
            src = community()
            tid = src.file_answer(body.question, body.answer, source="accepted")
            accepted = [a.id for a in src.store.thread(tid).answers if a.accepted]
            return ThreadOut(thread_id=tid, answer_id=accepted[0] if accepted else None)

        return await admission.run(in_cqa(file), write=True)

    # ------------------------------------------------------------------ evaluation jobs
    @app.post(f"/{API_VERSION}/eval", response_model=JobState, status_code=202,
              responses=_errors(*COMMON, 401, 403, 408, 413), dependencies=[Depends(write_key)], tags=["evaluation"])
    async def submit_eval(
        request: Request,
        file: Annotated[UploadFile, File(description="SQuAD v1.1/v2.0 JSON or RACE JSONL (.gz/.xz/.bz2 ok).")],
        kind: Annotated[Literal["auto", "squad", "race"], Form()] = "auto",
        limit: Annotated[int | None, Form(ge=1, le=1_000_000, description="At most this many questions; "
                                          "left out: all of them.")] = None,
    ) -> JobState:
        """Start an evaluation; poll `GET /v1/eval/{id}` for progress, then metrics and predictions."""
        given = (await request.form()).getlist("limit")
        if len(given) > 1 or any(isinstance(v, str) and not v.strip() for v in given):
            # a blank field from a form template read as "no limit" and started a whole dev set;
            # two of them, the last one winning, as silently
            raise errors.APIError(422, "validation_error", "limit: give one whole number of questions, or "
                                                           "leave the field out for all of them")
        name = Path(file.filename or "upload.json").name[:200]
        # at most one data suffix and one compression suffix, the latter last: what is unpacked
        # (once, capped) must never again carry a suffix that the loader would unpack (uncapped)
        tail = Path(name.lower()).suffixes[-2:]
        packed = tail[-1] if tail and tail[-1] in {".gz", ".xz", ".bz2"} else ""
        data = next((x for x in tail[:len(tail) - bool(packed)][-1:] if x in {".json", ".jsonl"}), "")
        suffixes = data + packed
        tmp = Path(tempfile.mkdtemp(prefix="qa-eval-"))
        try:  # the client's file name, made safe, so detection by name ("race-dev.jsonl") still works
            stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name.lower().removesuffix(suffixes)).strip("-")[:100]
            path = tmp / f"{stem or 'upload'}{suffixes or '.json'}"
            with path.open("wb") as fh:
                while chunk := await file.read(1 << 20):
                    fh.write(chunk)

            def load_and_queue() -> JobState:
                plain = path
                if path.suffix in {".gz", ".xz", ".bz2"}:  # the body limit must hold for what it unpacks to
                    try:
                        plain = decompress_capped(path, tmp / path.stem, UNPACKED_PER_BODY * max_body, name)
                    except InputError as exc:
                        raise errors.APIError(413, "too_large", str(exc)) from None
                    except QAError as exc:  # named by the client's file name, not the server's temporary path
                        raise type(exc)(str(exc).replace(str(path), name)) from None
                    path.unlink()
                    with plain.open("rb") as fh:  # told by the client's name (".gz"): unpacked, it has none
                        other = other_encoding(Path(name), fh.read(8))
                    if other is not None:
                        raise other
                return jobs.submit(plain, name, kind, limit)

            # to its end, never a 504: a job queued after the client stopped waiting could not be found
            return await admission.run(load_and_queue, wait_to_end=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @app.get(f"/{API_VERSION}/eval/{{job_id}}", response_model=JobState, responses=_errors(*COMMON, 401, 403, 404),
             dependencies=[Depends(read_key)], tags=["evaluation"])
    async def eval_status(job_id: str) -> JobState:
        return jobs.get(job_id)

    @app.delete(f"/{API_VERSION}/eval/{{job_id}}", response_model=JobState,
                responses=_errors(*COMMON, 401, 403, 404, 409), dependencies=[Depends(write_key)],
                tags=["evaluation"])
    async def cancel_eval(job_id: str) -> JobState:
        """Cancel an evaluation: a queued one never starts, a running one stops within one chunk of
        64 questions; 409 for one that has ended."""
        return jobs.cancel(job_id)

    # ------------------------------------------------------------------ operations
    def health_now() -> Health:
        failing = {str(r): kind for r, kind in engine.failing.items()}
        return Health(status="ok" if state["warm"] else "starting", version=package_version(),
                      routes=[str(r) for r in engine.routes],
                      ready={r: loaded and r not in failing for r, loaded in ready.items()},
                      failing=failing, left_out=getattr(engine, "left_out", []), queue=admission.waiting,
                      in_flight=admission.running)

    @app.head("/", include_in_schema=False)
    @app.get("/", include_in_schema=False)
    async def root() -> dict[str, str]:
        """Where things are, for whoever opens the server's address (the UI links it): it was a 404."""
        return {"name": "offline-qa", "version": package_version(), "docs": "/docs", "redoc": "/redoc",
                "openapi": "/openapi.json", "health": f"/{API_VERSION}/health"}

    # HEAD too: probes that ask with HEAD got 405 (HEAD routes stay out of the schema: one operation
    # per path, as client generators expect)
    @app.head(f"/{API_VERSION}/health", include_in_schema=False)
    @app.get(f"/{API_VERSION}/health", response_model=Health, tags=["operations"])
    async def health() -> Health:
        """Liveness: 200 while the process serves, loading or not; `status` and `ready` say how far
        start-up is and which sources loaded (never needs a key)."""
        return health_now()

    @app.head(f"/{API_VERSION}/ready", include_in_schema=False)
    @app.get(f"/{API_VERSION}/ready", response_model=Health, tags=["operations"],
             responses={503: {"model": Health, "description": "Models still loading (see Retry-After), "
                                                             "or no source loaded"}})
    async def readiness(response: HTTPResponse) -> Health:
        """Readiness, for a load balancer's or an orchestrator's probe, which reads the status code
        only: 503 with `Retry-After` while the models load, 503 when start-up ended with no source
        loaded, 200 once questions are answered (some sources may have failed: see `ready`)."""
        body = health_now()
        if not state["warm"]:
            response.status_code, response.headers["Retry-After"] = 503, "5"
        elif warm and not any(ready.values()):
            response.status_code = 503
        return body

    @app.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(read_key)],
             responses=_errors(401, 403), tags=["operations"])
    async def prometheus_metrics() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    paths.update(getattr(r, "path", "") for r in app.routes)
    def refused_early(scope: Any, status: int) -> None:
        """A request the outer checks refused (a Host, an Origin, a key, a body by its length) is a
        request like any other in the counts, and in the latency histogram: the application never saw it."""
        path = str(scope.get("path", ""))
        method = str(scope.get("method", "")) if scope.get("method") in _METHODS else "other"
        # the route's template where it is known (a key refused on DELETE /v1/documents/abc)
        endpoint = getattr(scope.get("route"), "path", None) or (path if path in paths else "unmatched")
        metrics.requests.labels(method, endpoint, str(status)).inc()
        metrics.errors.labels(endpoint, str(status)).inc()
        started = scope.get(STARTED_KEY)
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started if started else 0.0)

    keyed_routes = [r for r in app.routes if isinstance(r, APIRoute)
                    and any(d.dependency is keyed for d in r.dependencies)]

    def needs_key(scope: Any) -> APIRoute | None:
        return next((r for r in keyed_routes if r.matches(scope)[0] is Match.FULL), None)

    app.state.count_refused = refused_early  # for the server's protocol, which refuses requests of its own
    app.add_middleware(BodyLimit, max_bytes=max_body, metrics=metrics, timeout_s=settings.api_body_timeout_s,
                       on_refused=refused_early)
    app.add_middleware(KeyFirst, expected=settings.api_key, needs_key=needs_key, on_refused=refused_early)
    app.add_middleware(SameSite, loopback_only=loopback(settings.api_host), metrics=metrics, on_refused=refused_early,
                       names=settings.api_allowed_hosts.split(","))
    app.add_middleware(RequestLog)  # outermost: the refusals above are logged and carry the id too
    return app
