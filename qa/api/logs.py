"""The server's log: one line per event, UTC time first, the level, the logger and the request's id,
so an operator can grep it and a log collector can split it; and the access log, a line per request.

Every request carries an id: the client's `X-Request-ID` when it sends a usable one (a proxy's, so
one id follows a request through every hop), else one made here. It is sent back in the response's
`X-Request-ID` header and written on every line logged while the request is handled, in the worker
threads too (`Admission` runs the work in a copy of the request's context), so the 500 a client
reports and the traceback in the log are found by the same id.

What a user asked or was answered is not logged, nor any header (the API key): the access line has
the method, the path, the status, the time taken and the client's address."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.limits import CLIENT_CLOSED_REQUEST, CLIENT_GONE_KEY
from qa.core.errors import logged

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("qa_request_id", default="-")
REQUEST_ID_HEADER = "X-Request-ID"
_USABLE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")  # nothing that could forge a log line or a header
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")  # a path's spaces and control characters, as a log line shows them
OUR_LOGGERS = ("qa", "kb", "cqa", "retrieval", "mrc", "uvicorn")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

access = logging.getLogger("qa.api.access")
log = logging.getLogger("qa.api")


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class _NotTwice(logging.Filter):
    """uvicorn logs again, whole, a bug the API's handler logged already (Starlette hands it on
    after answering the 500): one traceback per bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[1] is not None and logged(record.exc_info[1]))




def configure(level: str) -> None:
    """The server process's logging: every line on standard error in `FORMAT`; our own loggers (and
    uvicorn's) at `level`, other libraries' at warning or above (their start-up chatter at info
    says nothing an operator acts on)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UTCFormatter(FORMAT))
    handler.addFilter(_WithRequestId())
    wanted = logging.getLevelNamesMapping()[level.upper()]
    handler.setLevel(wanted)  # a library that sets its own logger to debug (bm25s) is held to it too
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(wanted, logging.WARNING))
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(wanted)
    logging.getLogger("uvicorn.error").addFilter(_NotTwice())


def request_id(scope: Scope) -> str:
    """The client's id when it is one a log line can carry as it is, else a new one."""
    given = next((v for k, v in scope.get("headers") or [] if k.lower() == b"x-request-id"), b"")
    text = given.decode("latin-1")
    return text if _USABLE_ID.fullmatch(text) else uuid.uuid4().hex


def shown_path(path: str) -> str:
    """A path as the access line shows it: printable, bounded (a client chooses it)."""
    return _UNPRINTABLE.sub(lambda m: f"%{ord(m.group()) & 0xFF:02X}", path[:300]) or "-"


class RequestLog:
    """ASGI middleware, the outermost of ours: gives each request its id (kept for the log lines
    written while it is handled, sent back in `X-Request-ID`) and writes its access line when the
    response has gone, refusals by the checks inside it included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._header = REQUEST_ID_HEADER.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status: list[int] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                message["headers"] = [*(h for h in message.get("headers", []) if h[0].lower() != self._header),
                                      (self._header, rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if status:  # the response has begun: nothing more can be said to the client
                raise
            # answered here, not by Starlette's last handler outside: that one runs after this
            # request's id is gone, so its traceback and its 500 carried none
            from qa.api.errors import error_head_and_body, log_bug

            log_bug(exc, scope.get("method", "-"), shown_path(scope.get("path", "")))
            headers, body = error_head_and_body("internal_error", "internal error: the server failed to handle this "
                                                "request; it has been logged", {REQUEST_ID_HEADER: rid})
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            status.append(500)
        finally:
            client: Any = scope.get("client") or ("-",)
            shown = status[-1] if status else CLIENT_CLOSED_REQUEST if scope.get(CLIENT_GONE_KEY) else 0
            access.info('%s "%s %s" %d %.1f ms', client[0], scope.get("method", "-"), shown_path(scope.get("path", "")),
                        shown, 1000 * (time.perf_counter() - started))
            REQUEST_ID.reset(token)
