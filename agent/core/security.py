"""Local API protection, applied before any route.

Decisions, in order:
1. Host header must name a loopback host on the bound port, else 403 HOST_NOT_ALLOWED. This
   defeats DNS rebinding: a page on evil.example that rebinds to 127.0.0.1 still sends
   `Host: evil.example`.
2. A state-changing request (POST, PUT, PATCH, DELETE) carrying a foreign Origin (or
   `Origin: null`, or `Sec-Fetch-Site: cross-site`) gets 403 ORIGIN_NOT_ALLOWED.
3. With auth = token, /api/* and /v1/* (except /api/health) need the local token as
   `Authorization: Bearer <token>` or the dashboard cookie, else 401 UNAUTHORIZED.
4. `GET /?token=<token>` with the right token sets the HttpOnly SameSite=Strict cookie and
   redirects to `/` so the token leaves the address bar; a wrong token gets 401.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.core.errors import Forbidden, Unauthorized

COOKIE_NAME = "openfabric_session"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({"/api/health"})
PROTECTED_PREFIXES = ("/api/", "/v1/")


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


def allowed_origins(port_of: Callable[[], int]) -> set[str]:
    port = port_of()
    return {f"http://{host}:{port}" for host in LOOPBACK_HOSTS}


class LocalSecurity:
    """Pure ASGI middleware; `port_of` answers the bound port (known only after binding)."""

    def __init__(self, app: ASGIApp, *, token: str | None, port_of: Callable[[], int]) -> None:
        self.app = app
        self.token = token
        self.port_of = port_of
        self._allowed: frozenset[str] = frozenset()
        self._allowed_for = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        self._check_host(headers)
        self._check_origin(scope["method"], headers)
        path: str = scope["path"]
        if self.token is not None:
            if path == "/" and scope["method"] == "GET" and b"token=" in scope["query_string"]:
                await self._login(scope, receive, send)
                return
            if path.startswith(PROTECTED_PREFIXES) and path not in PUBLIC_PATHS:
                self._check_token(headers)
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

    def _check_origin(self, method: str, headers: Headers) -> None:
        if method not in UNSAFE_METHODS:
            return
        origin = headers.get("origin")
        cross_site = headers.get("sec-fetch-site") == "cross-site"
        if cross_site or (origin is not None and origin not in allowed_origins(self.port_of)):
            raise Forbidden(
                f"cross-site request from origin {origin!r} refused", code="ORIGIN_NOT_ALLOWED"
            )

    def _token_ok(self, candidate: str | None) -> bool:
        assert self.token is not None
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), self.token.encode()
        )

    def _check_token(self, headers: Headers) -> None:
        auth = headers.get("authorization", "")
        scheme, _, credentials = auth.partition(" ")
        bearer = credentials.strip() if scheme.lower() == "bearer" else None
        if self._token_ok(bearer) or self._token_ok(_cookie(headers, COOKIE_NAME)):
            return
        reason = "missing" if not auth and _cookie(headers, COOKIE_NAME) is None else "invalid"
        raise Unauthorized(
            f"{reason} API token: send 'Authorization: Bearer <token>' with the token from "
            "<home>/local.token",
            headers={"WWW-Authenticate": 'Bearer realm="openfabric"'},
        )

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = parse_qs(scope["query_string"].decode("latin-1")).get("token", [None])[0]
        if not self._token_ok(given):
            raise Unauthorized(
                "the login link's token is not valid for this agent", code="INVALID_LOGIN_TOKEN"
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE_NAME, self.token or "", httponly=True, samesite="strict", path="/"
        )
        response.headers["Cache-Control"] = "no-store"
        await response(scope, receive, send)


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
