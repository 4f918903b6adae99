"""`/mcp` on the local API: the fabric's tools over streamable HTTP.

Each tool calls the agent's own API over loopback with the credentials of the HTTP request
that carried the call (its Authorization header, its dashboard session cookie), so a caller
can do through MCP exactly what it could do through the API, no more. The API's middleware
has already refused requests without credentials and checked Host and Origin before this
endpoint sees them.

Sessions are stateful, as handshake-era clients expect (they send `Mcp-Session-Id` and end
with DELETE), and bounded: at most `max_sessions` live at once (a new one past that is
answered 503), and one without a request for `idle_timeout` seconds is closed. Clients of
the 2026 protocol send self-contained requests that the SDK serves without a session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from agent.client import AgentClient
from agent.core.errors import ServiceUnavailable
from agent.core.loopback import local_url
from agent.core.security import COOKIE_PREFIX
from agent.mcp.fabric.calls import ToolContext
from agent.mcp.fabric.server import CALL_TIMEOUT, build_server
from agent.settings import Settings

PATH = "/mcp"
MAX_SESSIONS = 64
IDLE_TIMEOUT_S = 600.0


def forwarded_credentials(headers: object) -> list[tuple[str, str]]:
    """The caller's Authorization header and dashboard session cookies, to pass on."""
    get = getattr(headers, "get", None)
    if get is None:
        return []
    found: list[tuple[str, str]] = []
    if authorization := get("authorization"):
        found.append(("Authorization", str(authorization)))
    cookies = [
        part.strip()
        for part in str(get("cookie") or "").split(";")
        if part.strip().startswith(COOKIE_PREFIX)
    ]
    if cookies:
        found.append(("Cookie", "; ".join(cookies)))
    return found


class _Forwarding(httpx.AsyncBaseTransport):
    """Adds one caller's credentials to requests sent through the endpoint's shared pool."""

    def __init__(self, pool: httpx.AsyncBaseTransport, headers: list[tuple[str, str]]) -> None:
        self._pool = pool
        self._headers = headers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for name, value in self._headers:
            request.headers[name] = value
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        """The pool outlives every client; the endpoint closes it."""


class FabricEndpoint:
    """The `/mcp` route and the session manager behind it; `run()` for the agent's
    lifetime."""

    def __init__(
        self,
        base_url: str,
        *,
        max_sessions: int = MAX_SESSIONS,
        idle_timeout: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url
        self._pool = httpx.AsyncHTTPTransport()
        self._running = False
        self.started = anyio.Event()
        server = build_server(self._open_client)
        # Host and Origin are the API middleware's to check (it knows the bound port).
        server.streamable_http_app(
            streamable_http_path=PATH,
            max_sessions=max_sessions,
            session_idle_timeout=idle_timeout,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.sessions = server.session_manager
        self._app = StreamableHTTPASGIApp(self.sessions)

    @classmethod
    def from_settings(cls, settings: Settings) -> FabricEndpoint:
        return cls(local_url(settings))

    @property
    def running(self) -> bool:
        return self._running

    def routes(self) -> list[BaseRoute]:
        # The endpoint itself is the ASGI app (the SDK answers each method).
        return [Route(PATH, endpoint=self, methods=["GET", "POST", "DELETE"])]

    async def run(self) -> None:
        """Serve sessions until cancelled; every open session is closed on the way out."""
        try:
            async with self.sessions.run():
                self._running = True
                self.started.set()
                await anyio.sleep_forever()
        finally:
            self._running = False
            with anyio.CancelScope(shield=True):
                await self._pool.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._running:
            raise ServiceUnavailable("the MCP endpoint is not running", code="MCP_UNAVAILABLE")
        await self._app(scope, receive, send)

    @asynccontextmanager
    async def _open_client(self, ctx: ToolContext) -> AsyncIterator[AgentClient]:
        transport = _Forwarding(self._pool, forwarded_credentials(ctx.headers))
        async with AgentClient(self.base_url, None, CALL_TIMEOUT, transport=transport) as client:
            yield client
