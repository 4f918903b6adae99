"""The peer listener: a second HTTPS server for other members, with its own small app.

Paths under `/peer/` require a signed request from a current member (see `signing`),
addressed to this node; the verified caller's node_id is in `request.state.peer_node`. The
join handshake and the onboarding page are reachable without membership: they are authorised
by the join token.

Every request body is bounded before any route sees it (`BodyLimit`): by the route's declared
limit (`body_limit(route, n)`) or else by `max_body_bytes`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TypeVar

import anyio
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.core.errors import EXCEPTION_HANDLERS, ApiError, BadRequest, PayloadTooLarge
from agent.core.metrics import Metrics
from agent.core.middleware import ErrorBoundary
from agent.peer.signing import KeyLookup, NonceCache, verify

SIGNED_PREFIX = "/peer/"
DEFAULT_BODY_LIMIT = 1024 * 1024
BODY_IDLE_TIMEOUT = 30.0
RouteT = TypeVar("RouteT", bound=BaseRoute)
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


def body_limit(route: RouteT, limit: int) -> RouteT:
    """Declare the largest body `route` accepts (the default is `max_body_bytes`)."""
    route.body_limit = limit  # type: ignore[attr-defined]
    return route


def request_target(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    path: str = scope["path"]
    return path + (f"?{query}" if query else "")


def _too_large(limit: int) -> PayloadTooLarge:
    # Closing the connection stops the server from reading and discarding the rest.
    return PayloadTooLarge(
        f"request body is larger than {limit} bytes",
        details={"limit": limit},
        headers={"connection": "close"},
    )


class BodyLimit:
    """Refuses a declared Content-Length over the route's limit before reading anything, and
    fails a streamed body once it passes the limit or stalls for `idle_timeout`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        default: int | None,
        idle_timeout: float = BODY_IDLE_TIMEOUT,
    ) -> None:
        self.app = app
        self.routes = list(routes)
        self.default = default
        self.idle_timeout = idle_timeout

    def limit_for(self, scope: Scope) -> int:
        for route in self.routes:
            if route.matches(scope)[0] is Match.FULL:
                declared = getattr(route, "body_limit", None)
                if declared is not None:
                    return int(declared)
                break
        if self.default is not None:
            return self.default
        settings = getattr(scope["app"].state, "settings", None) if "app" in scope else None
        return int(getattr(settings, "max_body_bytes", DEFAULT_BODY_LIMIT))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not _CONTENT_LENGTH.fullmatch(declared):
                raise BadRequest("Content-Length is not a number", code="BAD_REQUEST")
            if int(declared) > limit:
                raise _too_large(limit)
        received = 0
        complete = False

        async def bounded() -> Message:
            nonlocal received, complete
            if complete:
                # Only disconnects are left; a streaming response may wait for one for long.
                return await receive()
            try:
                with anyio.fail_after(self.idle_timeout):
                    message = await receive()
            except TimeoutError:
                raise ApiError(
                    "request body stalled",
                    code="REQUEST_TIMEOUT",
                    status=408,
                    headers={"connection": "close"},
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
                complete = not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                # The caller's doing, not an internal error (Starlette raises one for it).
                raise ApiError(
                    "the caller hung up before sending its whole body",
                    code="CLIENT_DISCONNECTED",
                    status=400,
                )
            return message

        await self.app(scope, bounded, send)


def digest_checked(receive: Receive, declared: str) -> Receive:
    """A receive that fails the request if the body does not hash to what was signed."""
    hasher = hashlib.sha256()

    async def checked() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            hasher.update(message.get("body", b""))
            if not message.get("more_body", False) and hasher.hexdigest() != declared:
                raise BadRequest(
                    "request body does not match its signed digest", code="BODY_DIGEST_MISMATCH"
                )
        return message

    return checked


class PeerAuth:
    def __init__(
        self, app: ASGIApp, *, key_of: KeyLookup, nonces: NonceCache, metrics: Metrics
    ) -> None:
        self.app = app
        self.key_of = key_of
        self.nonces = nonces
        self.rejected = metrics.counter(
            "peer_requests_rejected_total", "Peer requests refused, by reason", ["reason"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(SIGNED_PREFIX):
            try:
                node, digest = verify(
                    Headers(scope=scope),
                    scope["method"],
                    request_target(scope),
                    key_of=self.key_of,
                    nonces=self.nonces,
                )
            except ApiError as exc:
                self.rejected.labels(exc.code).inc()
                raise
            scope.setdefault("state", {})["peer_node"] = node
            receive = digest_checked(receive, digest)
        await self.app(scope, receive, send)


def peer_node(request: Request) -> str:
    node: str = request.state.peer_node
    return node


def create_peer_app(
    routes: Sequence[BaseRoute],
    *,
    key_of: KeyLookup,
    nonces: NonceCache,
    metrics: Metrics,
    default_body_limit: int | None = None,
) -> Starlette:
    """`default_body_limit` None: the app's `settings.max_body_bytes` (1 MiB without one)."""
    return Starlette(
        routes=list(routes),
        middleware=[
            Middleware(ErrorBoundary, metrics=metrics),
            Middleware(BodyLimit, routes=routes, default=default_body_limit),
            Middleware(PeerAuth, key_of=key_of, nonces=nonces, metrics=metrics),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
