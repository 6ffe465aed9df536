"""The HTTP protocol the server runs: uvicorn's h11 protocol with two limits of its own.

uvicorn closes a connection that idles after a response, but not one that never finishes a
request's head: a client opening `api_max_connections` sockets and sending nothing (or a header line
now and then) held every slot for as long as it liked, and `/v1/health` itself answered 503.
Here a connection whose request head has not arrived `api_header_timeout_s` after it opened (or
after its last response) is closed.

At the connection cap uvicorn answered a plain-text 503 of its own, outside the API's error
format, without Retry-After and uncounted in the metrics. Here the request goes on to the
application marked as over the cap (`OVER_CAPACITY_KEY` in its scope), which refuses it as it
refuses a full queue: JSON, Retry-After, counted.

A connection that closes while its request waits for a worker marks the request's scope
(`CLIENT_GONE_KEY`), so the request is dropped instead of computed for nobody (Starlette's own
`is_disconnected` cannot see it through the app's HTTP middleware)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.api.errors import error_head_and_body
from qa.api.limits import CLIENT_GONE_KEY, OVER_CAPACITY_KEY

LIVENESS_PATH = "/v1/health"


def guarded_protocol(header_timeout_s: float,
                     on_refused: Callable[[dict[str, Any], int], None] | None = None) -> type[H11Protocol]:
    """The protocol class for `uvicorn.Config(http=...)`, with the head deadline set; `on_refused`
    counts a request it refuses itself (the application's `refused_early`)."""

    class GuardedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._cap = self.limit_concurrency
            self.limit_concurrency = None  # the cap is the application's to answer (see the module)
            self._head_deadline: asyncio.TimerHandle | None = None
            inner = self.app

            async def app(scope: Any, receive: Any, send: Any) -> None:
                # the same test uvicorn made (this request's own task is counted here already); the
                # liveness probe is answered all the same: a connection spike is no reason to restart
                # the server (readiness says 503 then, so a load balancer sends fewer)
                over = self._cap is not None and (len(self.connections) >= self._cap or len(self.tasks) > self._cap)
                if over and scope.get("path") != LIVENESS_PATH:
                    scope[OVER_CAPACITY_KEY] = True
                await inner(scope, receive, send)

            self.app = app

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # a request's head has arrived
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.conn.their_state is h11.IDLE:  # waiting for the next request's head
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self.cycle is not None and not self.cycle.response_complete:
                cast(dict[str, Any], self.cycle.scope)[CLIENT_GONE_KEY] = True  # an ASGI scope is a dict
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self._head_deadline = self.loop.call_later(header_timeout_s, self._head_late)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def send_400_response(self, msg: str) -> None:
            """A request h11 cannot parse (a head over its limit, a malformed line): uvicorn
            answered it in plain text, outside the API's error format, and no metric counted it."""
            if on_refused is not None:
                on_refused({"path": "", "method": ""}, 400)
            headers, body = error_head_and_body("bad_request", f"{msg} (a malformed request, or a head too large)")
            for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=body),
                          h11.EndOfMessage()):
                self.transport.write(self.conn.send(event) or b"")
            self.transport.close()

        def _head_late(self) -> None:
            self._head_deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol
