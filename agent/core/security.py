"""Local API protection, applied before any route.

Decisions, in order:
1. Host header must name a loopback host on the bound port, else 403 HOST_NOT_ALLOWED. This
   defeats DNS rebinding: a page on evil.example that rebinds to 127.0.0.1 still sends
   `Host: evil.example`.
2. A state-changing request (POST, PUT, PATCH, DELETE), or any request to /mcp, carrying a
   foreign Origin (or `Origin: null`, or `Sec-Fetch-Site: cross-site`) gets 403
   ORIGIN_NOT_ALLOWED.
3. With auth = token, /api/*, /v1/* and /mcp (except /api/health) need the local token as
   `Authorization: Bearer <token>`, or a live dashboard session cookie, else 401
   UNAUTHORIZED. The token itself is accepted from that header only: never from a cookie
   (browsers send cookies to every port of 127.0.0.1, so any local server would receive it)
   and never from a query string (URLs end up in `ps`, history and logs).
4. How a request authenticated is left in `scope["state"]["auth"]`: "token", "session",
   "none" (auth is off) or None, also on public paths, so a route can answer anonymous
   callers with less (health) or insist on the token (issuing login codes).

Dashboard sign-in (codes and sessions) is in `agent.core.sessions` and `agent.core.auth`.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.core.errors import Forbidden, Unauthorized
from agent.core.sessions import SessionStore

COOKIE_PREFIX = "openfabric_session_"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({"/api/health"})
PROTECTED_PREFIXES = ("/api/", "/v1/", "/mcp/")
# The fabric's own MCP endpoint (streamable HTTP), protected like the API.
PROTECTED_PATHS = frozenset({"/mcp"})


def load_or_create_token(home: Path) -> str:
    """The local token, created 0600 on first use."""
    path = home / "local.token"
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text(encoding="ascii").strip()
        if len(token) >= 32:
            return token
        path.unlink()
        return load_or_create_token(home)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    return token


def cookie_name(port: int) -> str:
    """Per agent: two agents on one machine share the browser's 127.0.0.1 cookie jar."""
    return f"{COOKIE_PREFIX}{port}"


def allowed_origins(port_of: Callable[[], int]) -> set[str]:
    port = port_of()
    return {f"http://{host}:{port}" for host in LOOPBACK_HOSTS}


class LocalSecurity:
    """Pure ASGI middleware; `port_of` answers the bound port (known only after binding)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        port_of: Callable[[], int],
        sessions: SessionStore | None = None,
    ) -> None:
        self.app = app
        self.token = token
        self.port_of = port_of
        self.sessions = sessions
        self._allowed: frozenset[str] = frozenset()
        self._allowed_for = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        self._check_host(headers)
        path: str = scope["path"]
        # The MCP endpoint's GET opens an event stream that can carry tool results: the MCP
        # specification asks for Origin to be checked on every request to it.
        is_mcp = path in PROTECTED_PATHS or path.startswith("/mcp/")
        if is_mcp or scope["method"] in UNSAFE_METHODS:
            self._check_origin(headers)
        auth = "none" if self.token is None else self._authenticate(headers)
        scope.setdefault("state", {})["auth"] = auth
        protected = path.startswith(PROTECTED_PREFIXES) or path in PROTECTED_PATHS
        if auth is None and protected and path not in PUBLIC_PATHS:
            self._refuse(headers)
        await self.app(scope, receive, send)

    def _allowed_hosts(self, port: int) -> frozenset[str]:
        if self._allowed_for != port:
            allowed = {f"{h}:{port}" for h in LOOPBACK_HOSTS}
            if port == 80:
                allowed.update(LOOPBACK_HOSTS)
            self._allowed, self._allowed_for = frozenset(allowed), port
        return self._allowed

    def _check_host(self, headers: Headers) -> None:
        host = headers.get("host", "")
        port = self.port_of()
        if host.lower() not in self._allowed_hosts(port):
            raise Forbidden(
                f"Host {host!r} is not allowed; use 127.0.0.1:{port} or localhost:{port}",
                code="HOST_NOT_ALLOWED",
            )

    def _check_origin(self, headers: Headers) -> None:
        origin = headers.get("origin")
        cross_site = headers.get("sec-fetch-site") == "cross-site"
        if cross_site or (origin is not None and origin not in allowed_origins(self.port_of)):
            raise Forbidden(
                f"cross-site request from origin {origin!r} refused", code="ORIGIN_NOT_ALLOWED"
            )

    def _authenticate(self, headers: Headers) -> str | None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._token_ok(credentials.strip()):
            return "token"
        if self.sessions is not None and self.sessions.check(
            _cookie(headers, self.sessions.cookie_name)
        ):
            return "session"
        return None

    def _token_ok(self, candidate: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def _refuse(self, headers: Headers) -> None:
        presented = "authorization" in headers or (
            self.sessions is not None and _cookie(headers, self.sessions.cookie_name) is not None
        )
        reason = "invalid" if presented else "missing"
        raise Unauthorized(
            f"{reason} API token: send 'Authorization: Bearer <token>' with the token from "
            "<home>/local.token (the dashboard signs in with `openfabric dashboard`)",
            headers={"WWW-Authenticate": 'Bearer realm="openfabric"'},
        )


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
