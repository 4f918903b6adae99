"""The peer listener: a second HTTPS server for other members, with its own small app.

Paths under `/peer/` require a signed request from a current member (see `signing`); the
verified caller's node_id is in `request.state.peer_node`. The join handshake and the
onboarding page are reachable without membership: they are authorised by the join token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.core.errors import EXCEPTION_HANDLERS, ApiError, BadRequest
from agent.core.metrics import Metrics
from agent.core.middleware import ErrorBoundary
from agent.peer.signing import KeyLookup, NonceCache, verify

SIGNED_PREFIX = "/peer/"


def request_target(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return scope["path"] + (f"?{query}" if query else "")


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
    routes: Sequence[BaseRoute], *, key_of: KeyLookup, nonces: NonceCache, metrics: Metrics
) -> Starlette:
    return Starlette(
        routes=list(routes),
        middleware=[
            Middleware(ErrorBoundary, metrics=metrics),
            Middleware(PeerAuth, key_of=key_of, nonces=nonces, metrics=metrics),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
