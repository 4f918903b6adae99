"""Security headers on every local API answer, as one pure ASGI middleware.

- Every answer: `X-Content-Type-Options: nosniff` (a JSON or text body is never run as a
  script or page), `Referrer-Policy: no-referrer` (a login code or path never leaks to another
  site), `X-Frame-Options: DENY` (no framing, for browsers without CSP frame-ancestors).
- HTML (the dashboard): a CSP allowing only this origin's own files; no inline script or
  style, no plugins, no `<base>`, no framing, forms and connections only to this origin.
- Everything else (JSON, SSE, assets, files): `default-src 'none'`, so a body opened
  directly as a document can load and run nothing.
- /api and /v1 answers: `Cache-Control: no-store`, so answers meant for the token holder
  stay out of browser and proxy caches.

A header the route set itself wins (storage downloads send `Content-Security-Policy:
sandbox`); only missing ones are added.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'; connect-src 'self'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
API_PREFIXES = ("/api/", "/v1/")

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_CSP = b"content-security-policy"
_CACHE = b"cache-control"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith(API_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_defaults(list(message.get("headers", [])), is_api)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_defaults(headers: list[tuple[bytes, bytes]], is_api: bool) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    for name, value in _ALWAYS:
        if name not in present:
            headers.append((name, value))
    if _CSP not in present:
        html = any(
            name.lower() == b"content-type" and value.lower().startswith(b"text/html")
            for name, value in headers
        )
        headers.append((_CSP, (DASHBOARD_CSP if html else API_CSP).encode()))
    if is_api and _CACHE not in present:
        headers.append((_CACHE, b"no-store"))
    return headers
