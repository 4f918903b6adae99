"""Request ids, the error boundary and request metrics, as one pure ASGI middleware."""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.core.errors import ApiError, error_response

if TYPE_CHECKING:
    from agent.core.metrics import Metrics

log = logging.getLogger("openfabric.http")


class ErrorBoundary:
    """Gives every request an id and turns every failure into the standard error format.

    A response that has already started cannot be replaced; the failure is then only logged
    and the connection closed by the server.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Unique per process without a syscall per request: random prefix + counter.
        self._id_prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)

    def _next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids):x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or self._next_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = False
        status = 500
        begin = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ApiError as exc:
            if started:
                raise
            await exc.response()(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error in %s %s [request %s]", scope["method"], scope["path"], request_id
            )
            if started:
                raise
            response = error_response(
                500,
                "INTERNAL_ERROR",
                "internal error; see the agent log",
                {"request_id": request_id},
            )
            await response(scope, receive, send_with_id)
        finally:
            # Label by route template, not raw path, so ids in URLs don't explode cardinality.
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - begin
            )


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if 0 < len(text) <= 64 and text.isprintable():
                return text
    return None
