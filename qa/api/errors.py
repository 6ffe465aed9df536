"""Every failure becomes a JSON body `{"error": {"type", "message"}}` with a 4xx or 503/504 status;
a bug becomes a 500 that says so and is logged here, never a stack trace sent to the client."""

from __future__ import annotations

import errno
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from qa.core.errors import LOGGED, ModelNotFoundError, QAError, SourceUnavailable, error_type_of, logged

log = logging.getLogger("qa.api")

_HTTP_TYPES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               406: "not_acceptable", 408: "timeout", 409: "conflict", 413: "too_large",
               415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests", 503: "overloaded",
               504: "timeout"}


class APIError(Exception):
    """An error the API itself raises (auth, limits, overload), with its status and headers."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = headers or {}


def error_head_and_body(kind: str, message: str,
                        headers: dict[str, str] | None = None) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The API's error, as raw headers and body, for what answers before the application does (the
    ASGI checks in `qa.api.limits`, the HTTP protocol): the one JSON shape `error_response` gives."""
    import json

    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"), *extra], body


def error_response(status: int, kind: str, message: str, *, fields: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _clean(msg: str) -> str:
    return re.sub(r"\s+", " ", msg).strip()[:500]


# the names pydantic gives the branches of a union in an error's location ("constrained-str",
# "function-after[...]"): its own, not a field the client sent
_TAGS = ("constrained-", "function-", "json-or-python", "lax-or-strict", "tagged-union", "nullable")
_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict"}


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p != "body" and not (
        isinstance(p, str) and ("[" in p or p.startswith(_TAGS) or p in _TYPE_TAGS))]
    return ".".join(parts) or "body"


def _validation_message(exc: RequestValidationError) -> tuple[int, str, list[str]]:
    errors = exc.errors()
    fields = list(dict.fromkeys(_field(e.get("loc", ())) for e in errors))  # a union's branches: one field
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return 400, "the request body is not valid JSON (UTF-8 text expected)", ["body"]
    where = fields[0] if fields else "body"
    if first.get("type") == "string_unicode":  # a lone surrogate (\ud800) in JSON: not text
        return 400, f"{where}: not valid UTF-8 text", fields[:10]
    msg = first.get("msg", "invalid value")
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return 422, _clean(f"{where}: {msg}{more}"), fields[:10]


def public_message(exc: BaseException) -> str:
    """What a client is told of a failure: a source that did not load or a missing model names the
    server's own folders, so the client hears that much and the log gets the detail (logged here);
    a failure that is no `QAError` is a bug, told as one."""
    if isinstance(exc, SourceUnavailable):
        log.warning("%s", exc.log_line)
        return exc.public or _clean(str(exc))
    if isinstance(exc, QAError) and exc.public:  # a graph endpoint's failure: its address stays here
        log.warning("%s", exc)
        return exc.public
    if isinstance(exc, ModelNotFoundError):
        log.warning("a model a request needs is missing: %s", exc)
        return "a model this request needs is not installed on this server; the server's log says which"
    if isinstance(exc, QAError):
        return _clean(str(exc))
    log.error("internal error", exc_info=exc)
    return "internal error: the server failed; it has been logged"


def log_bug(exc: BaseException, method: str, path: str) -> None:
    """A bug's traceback in the log, once: one a source's failure logged already is a line."""
    if logged(exc):
        log.error("internal error on %s %s (its traceback is above)", method, path)
    else:
        log.error("internal error on %s %s", method, path, exc_info=exc)
    setattr(exc, LOGGED, True)


def install(app: FastAPI) -> None:
    @app.exception_handler(QAError)
    async def _qa(request: Request, exc: QAError) -> JSONResponse:
        # a passing condition says when to come back (a store busy with an import, a graph still
        # finishing queries that timed out or an endpoint that is down); a missing model does not
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
        return error_response(exc.http_status, error_type_of(exc), public_message(exc), headers=headers)

    @app.exception_handler(APIError)
    async def _api(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.kind, exc.message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, msg, fields = _validation_message(exc)
        return error_response(status, "bad_request" if status == 400 else "validation_error", msg, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_TYPES.get(exc.status_code, "error")
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            if isinstance(exc.__cause__, OSError):  # the server's own trouble spooling a form (a full /tmp)
                return await _os(request, exc.__cause__)
            if isinstance(exc.__cause__, ClientDisconnect):  # hung up mid-body: nothing wrong with what it sent
                from qa.api.limits import CLIENT_CLOSED_REQUEST

                metrics = getattr(request.app.state, "metrics", None)
                if metrics is not None:
                    metrics.rejected.labels(reason="client gone").inc()
                return error_response(CLIENT_CLOSED_REQUEST, "client_gone", "the client closed the connection while "
                                      "sending its request")
            return error_response(400, kind, "the request body could not be parsed (JSON in UTF-8, or a "
                                             "well-formed multipart form, expected)")
        path = request.url.path
        if exc.status_code == 404 and exc.detail == "Not Found" and len(path) > 1:
            # a path with a slash too many (the app does not redirect: a 307 built from the Host
            # header, with no body, was the answer) or none the API has: said with where to look
            bare = path.rstrip("/")
            known = {getattr(r, "path", None) for r in request.app.routes}
            hint = f"; did you mean {bare}?" if path.endswith("/") and bare in known else "; the paths are at /docs"
            return error_response(404, kind, f"no such path: {path}{hint}")
        return error_response(exc.status_code, kind, _clean(str(exc.detail)), headers=getattr(exc, "headers", None))

    @app.exception_handler(OSError)  # its own handler: Exception's is Starlette's last, which re-raises
    async def _os(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno == errno.ENOSPC:  # the operator's to fix, not a bug: no traceback, 507
            log.error("%s %s: no space left on device (%s); nothing was written", request.method,
                      request.url.path, exc.filename or exc)
            return error_response(507, "insufficient_storage", "the server's disk is full: nothing was written; "
                                  "try again once the operator has freed space")
        return await _bug(request, exc)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log_bug(exc, request.method, request.url.path)
        return error_response(500, "internal_error", "internal error: the server failed to handle this request; "
                                                     "it has been logged")
