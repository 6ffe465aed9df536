"""What keeps the server up under load and hostile input: a bounded number of requests working at
once, a bounded queue in front of them (beyond it: 503 with Retry-After at once, not a queue that
grows until every client times out), a per-request timeout, a body-size cap and the API key.

The engine's work runs in a fixed pool of `api_workers` threads (one per core is right: each
forward pass already uses the cores it gets); the event loop only admits, waits and answers, so
`/v1/health` and `/metrics` stay responsive while the workers are busy.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import logging
import math
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.errors import APIError, error_head_and_body
from qa.api.metrics import Metrics
from qa.core.settings import loopback

T = TypeVar("T")
log = logging.getLogger("qa.api")
API_KEY_HEADER = "X-API-Key"
TOO_LARGE = 413
TOO_SLOW = 408
STARTED_KEY = "qa.started"  # when the request reached the outermost check (SameSite), for the latency of a refusal
BODY_REFUSED_KEY = "qa.body_refused"  # the status, in the request's scope, when BodyLimit refused a streamed body


# whether the client of the request being handled has gone (its connection closed); set per request
# by the app, read when a queued request reaches a worker: a load balancer that gave up and sent it
# again elsewhere must not have it computed twice. The server's protocol marks the request's scope
# with CLIENT_GONE_KEY when its connection is lost.
CLIENT_GONE: contextvars.ContextVar[Callable[[], Awaitable[bool]] | None] = contextvars.ContextVar(
    "qa_client_gone", default=None)
CLIENT_GONE_KEY = "qa.client_gone"
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a request its client abandoned (nobody reads it)


# set in a request's scope by the server's protocol (`qa.api.protocol`): it came in over the
# connection cap, and is refused like a request over a full queue
OVER_CAPACITY_KEY = "qa.over_capacity"


GONE_POLL_S = 0.25  # how often a queued request looks whether its client is still there


class _Gone(Exception):
    """The client of a queued request closed its connection."""


class Admission:
    """At most `workers` requests run; at most `queue` wait, each for at most `queue_timeout_s`."""

    def __init__(self, workers: int, queue: int, queue_timeout_s: float, timeout_s: float, metrics: Metrics) -> None:
        self.workers = workers
        self.queue = queue
        self.queue_timeout_s = queue_timeout_s
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qa-worker")
        self._working: set[Future[Any]] = set()  # work started in the pool and not yet done
        self.waiting = 0
        self.running = 0
        self._free = workers
        self._waiters: list[asyncio.Future[None]] = []
        self._service_s = 0.5  # moving average of a request's work, for Retry-After

    def retry_after(self) -> int:
        """Seconds until the queue ahead has likely drained."""
        return max(1, min(60, math.ceil(self._service_s * (self.waiting + self.running + 1) / self.workers)))

    def over_capacity(self) -> APIError:
        """A request that came in over the server's connection cap (`OVER_CAPACITY_KEY`)."""
        return self._overloaded("connection limit")

    def _overloaded(self, why: str) -> APIError:
        self.metrics.rejected.labels(reason=why).inc()
        after = self.retry_after()
        return APIError(503, "overloaded", f"the server is busy ({why}); retry in {after} s",
                        headers={"Retry-After": str(after)})

    async def _acquire(self) -> bool:
        """A worker slot, at once (False) or after waiting in the queue (True)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return False
        if self.waiting >= self.queue:
            raise self._overloaded("queue full")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append(fut)
        self.waiting += 1
        self.metrics.queue_depth.set(self.waiting)
        gone = CLIENT_GONE.get()
        deadline = loop.time() + self.queue_timeout_s
        try:
            # the client is looked at now and then while it waits: one that hung up held its place
            # in the queue until its turn or the queue's timeout, and live clients were refused
            # "queue full" behind requests nobody was waiting for
            while not fut.done():
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait({fut}, timeout=min(left, GONE_POLL_S))
                if not fut.done() and gone is not None and await gone():
                    raise _Gone
        except BaseException as exc:  # timed out, or the client went away while waiting
            if fut.done() and not fut.cancelled():  # granted just as we gave up: pass the slot on
                self._release()
            else:
                fut.cancel()
            if isinstance(exc, TimeoutError):
                raise self._overloaded("waited too long for a worker") from None
            if isinstance(exc, _Gone):
                raise self._left() from None
            raise
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)
            self.waiting -= 1
            self.metrics.queue_depth.set(self.waiting)
        return True

    def _left(self) -> APIError:
        self.metrics.rejected.labels(reason="client gone").inc()
        return APIError(CLIENT_CLOSED_REQUEST, "client_gone", "the client closed the connection while waiting")

    def _release(self) -> None:
        while self._waiters:
            fut = self._waiters.pop(0)
            if not fut.done():
                fut.set_result(None)
                return
        self._free += 1

    async def run(self, fn: Callable[..., T], *args: Any, wait_to_end: bool = False, write: bool = False) -> T:
        """`fn(*args)` in a worker thread, admitted or refused with 503; 504 after the timeout (the
        work then finishes in the background and only then frees its worker). `wait_to_end`: no
        timeout, for work whose result the client cannot find again later (a job's id)."""
        waited = await self._acquire()
        gone = CLIENT_GONE.get()
        try:
            left = waited and gone is not None and await gone()
        except BaseException:
            self._release()
            raise
        if left:  # left while it waited: its slot goes to the next
            self._release()
            raise self._left()
        loop = asyncio.get_running_loop()
        self.running += 1
        self.metrics.in_flight.set(self.running)
        started = time.perf_counter()
        ctx = contextvars.copy_context()
        work = self.pool.submit(lambda: ctx.run(fn, *args))
        self._working.add(work)
        work.add_done_callback(self._working.discard)
        fut = asyncio.wrap_future(work, loop=loop)

        def done(f: asyncio.Future) -> None:
            self.running -= 1
            self.metrics.in_flight.set(self.running)
            self._service_s = 0.8 * self._service_s + 0.2 * (time.perf_counter() - started)
            loop.call_soon_threadsafe(self._release) if not loop.is_closed() else None
            if not f.cancelled() and f.exception() is not None and timed_out:
                # nobody awaits it any more: said here, once (asyncio logged "Future exception was
                # never retrieved" with the whole traceback)
                log.warning("a request that had timed out (504) then failed: %s", f.exception())

        timed_out = False

        fut.add_done_callback(done)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), None if wait_to_end else self.timeout_s)
        except TimeoutError:
            timed_out = True
            self.metrics.rejected.labels(reason="timeout").inc()
            if write:  # a change carries on: sent again blindly it could be made twice
                raise APIError(504, "timeout", f"the server stopped waiting after {self.timeout_s:g} s; the change "
                                               "itself runs to its end (documents or threads being added will be "
                                               "there), so check before sending it again") from None
            raise APIError(504, "timeout", f"the server stopped waiting after {self.timeout_s:g} s (its "
                                           "QA_REQUEST_TIMEOUT_S); ask again, or when it is less busy") from None

    def close(self) -> None:
        """Work not started is dropped; work running goes on in its thread (see `drain`)."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def drain(self, grace_s: float) -> int:
        """Stop: work not started is dropped; work running (a write a 504 said would finish) gets up
        to `grace_s` to end, waited for without blocking the event loop. Returns how many were still
        running after that (stopped with the process; stores and collections are written
        atomically, so they stay as they were before that write)."""
        self.close()
        running = [f for f in list(self._working) if not f.done()]  # a copy: workers discard as they end
        if running and grace_s > 0:
            await asyncio.wait([asyncio.wrap_future(f) for f in running], timeout=grace_s)
        return sum(not f.done() for f in running)


def check_key(expected: str, given: str | None) -> None:
    """401 without a key, 403 with a wrong one (compared in constant time)."""
    if not expected:
        return
    if not given:
        raise APIError(401, "unauthorized", f"this endpoint needs an API key in the {API_KEY_HEADER} header",
                       headers={"WWW-Authenticate": API_KEY_HEADER})
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise APIError(403, "forbidden", "the API key is not valid")


class BodyLimit:
    """ASGI middleware: a body larger than `max_bytes` is refused with 413, whether it announces
    its length or streams it, before the application reads it whole; a body that has not arrived
    whole `timeout_s` after the request began is refused with 408. Without the deadline, clients
    sending all but the last kilobyte of a large body would each hold it in the server's memory for
    as long as they liked: the workers and the queue only count requests whose body has arrived."""

    def __init__(self, app: ASGIApp, max_bytes: int, metrics: Metrics | None = None,
                 timeout_s: float = 60.0, on_refused: Callable[[Scope, int], None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics
        self.timeout_s = timeout_s
        # counts a request refused before the application saw it (its request metrics never did)
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                self._count(scope, 400)
                await refuse(send, 400, "bad_request", "invalid Content-Length header")
                return
            if too_big:
                self._count(scope, TOO_LARGE)
                await self._too_large(send)
                return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        seen = 0
        started = body_done = False
        refused: int | None = None

        async def limited() -> Message:
            nonlocal seen, body_done, refused
            if body_done:  # after the body, the app waits for the client to go away: no deadline
                return await receive()
            try:
                msg = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                refused = scope[BODY_REFUSED_KEY] = TOO_SLOW  # for the request metrics
                raise _Refused from None
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    refused = scope[BODY_REFUSED_KEY] = TOO_LARGE
                    raise _Refused
                body_done = not msg.get("more_body", False)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if refused is not None:  # the app caught the error while reading (FastAPI answers 400): say what it was
                if msg["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse_body(send, refused)
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited, tracking_send)
        except _Refused:
            if not started and refused is not None:
                await self._refuse_body(send, refused)

    def _count(self, scope: Scope, status: int) -> None:
        if self.on_refused is not None:
            self.on_refused(scope, status)

    async def _refuse_body(self, send: Send, status: int) -> None:
        if status == TOO_LARGE:
            await self._too_large(send)
            return
        if self.metrics is not None:
            self.metrics.rejected.labels(reason="body too slow").inc()
        await refuse(send, TOO_SLOW, "timeout", f"the request body did not arrive within {self.timeout_s:g} s")

    async def _too_large(self, send: Send) -> None:
        if self.metrics is not None:  # refused before the app (and its request metrics) saw it
            self.metrics.rejected.labels(reason="body too large").inc()
        await refuse(send, TOO_LARGE, "too_large", self._message())

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.max_bytes / 1e6:g} MB"


async def refuse(send: Send, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
    """Answer a request with the API's JSON error before the application sees it."""
    head, body = error_head_and_body(kind, message, headers)
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class KeyFirst:
    """ASGI middleware: a request to an operation that needs the API key, without it or with a
    wrong one, is refused (401, 403) from its head, before its body is read. As a dependency of
    the route alone, the key was checked after FastAPI had read and parsed the whole body: anyone
    without a key could make the server hold `api_max_body_mb` a connection, for as long as the
    body took to arrive. The routes keep their own check (the schema marks them by it)."""

    def __init__(self, app: ASGIApp, *, expected: str, needs_key: Callable[[Scope], Any],
                 on_refused: Callable[[Scope, int], None] | None = None) -> None:
        self.app = app
        self.expected = expected
        self.needs_key = needs_key
        self.on_refused = on_refused
        self._header = API_KEY_HEADER.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.needs_key(scope) if scope["type"] == "http" and self.expected else None
        if route is not None:  # the route that asks for the key (its template names it in the metrics)
            given = next((v for k, v in scope.get("headers") or [] if k.lower() == self._header), None)
            try:  # decoded as Starlette decodes it, so the route's own check agrees
                check_key(self.expected, given.decode("latin-1") if given is not None else None)
            except APIError as exc:
                scope["route"] = route
                if self.on_refused is not None:
                    self.on_refused(scope, exc.status)
                await refuse(send, exc.status, exc.kind, exc.message, exc.headers)
                return
        await self.app(scope, receive, send)


class _Refused(Exception):
    pass


class SameSite:
    """ASGI middleware against the web pages of other sites a user of this machine visits. A page
    can send a form (multipart, no preflight) to http://127.0.0.1:8000 from any site: an evaluation
    job ran; and a site whose name it points at 127.0.0.1 (DNS rebinding) could read and write the
    whole API, keyless by default. So a request other than GET, HEAD and OPTIONS whose `Origin` is a
    page of another site (not of this machine, nor of a name in `names`) is refused (403), and,
    while the server listens on loopback, a request naming a host that is not this machine, its own
    host name, or one of `names`, is refused (400). Programs send no `Origin`."""

    SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: ASGIApp, *, loopback_only: bool, names: Iterable[str] = (),
                 metrics: Metrics | None = None, on_refused: Callable[[Scope, int], None] | None = None) -> None:
        self.app = app
        self.loopback_only = loopback_only
        # the operator's names as host names ("qa.example.org:8443" is qa.example.org), and this
        # machine's own name, which its programs may use (without a DNS lookup: offline it would hang)
        self.names = {_host_name(n) for n in names if n.strip()} | {socket.gethostname().lower()}
        self.metrics = metrics
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[STARTED_KEY] = time.perf_counter()  # the outermost check: a refusal's time counts from here
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        name = _host_name(host)
        if self.loopback_only and host and not (loopback(name) or name in self.names):
            await self._refuse(scope, send, 400, "bad_host",
                               f"this server listens on loopback and is not {name or host!r}: a page from another "
                               "site reached it through its own name (DNS rebinding); to serve it under that name "
                               "(a reverse proxy), add it to QA_API_ALLOWED_HOSTS")
            return
        origin = headers.get(b"origin")
        if origin is not None and scope.get("method", "GET") not in self.SAFE:
            said = origin.decode("latin-1").strip().lower()
            try:
                parts = urlsplit(said)
                where, from_name = parts.netloc, parts.hostname or ""
            except ValueError:
                where, from_name = "", ""
            # its own origin; a page of this machine (the API's /docs through a proxy on another
            # port, a front end of one's own) or of a name the operator gave is no other site
            if not (where and where == host) and not loopback(from_name) and from_name not in self.names:
                await self._refuse(scope, send, 403, "forbidden",
                                   f"a web page from {said[:100]!r} may not use this API (cross-site request "
                                   "refused); programs send no Origin header, and a name this server is reached "
                                   "by (a reverse proxy's) goes in QA_API_ALLOWED_HOSTS")
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, status: int, kind: str, message: str) -> None:
        if self.on_refused is not None:
            self.on_refused(scope, status)
        if self.metrics is not None:
            self.metrics.rejected.labels(reason="cross-site" if status == 403 else "bad host").inc()
        await refuse(send, status, kind, message)


def _host_name(host: str) -> str:
    """The host name of a `Host` header or a name given with its port ("qa.example.org:8443",
    "[::1]:8000"); "" for one that is none."""
    try:
        return urlsplit(f"//{host.strip().lower()}").hostname or ""
    except ValueError:
        return ""
