"""Serves the web dashboard, whose files ship inside this package (`static/`).

They live in the package, not beside it, so that a wheel carries them and an installed agent
serves the same page as a source checkout.

The dashboard is one page that routes in the browser, so every page URL (`/tasks`,
`/nodes/<id>`, ...) answers the same shell to a browser asking for HTML. Paths under the API's
own prefixes never do: an unknown API path stays a JSON 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

# Wheels install unzipped, so the package's own folder is a real directory StaticFiles can use.
DEFAULT_DIR = Path(__file__).resolve().parent / "static"
# First path segments that belong to the API, the peer channel or the assets, never to a page.
RESERVED = frozenset({"api", "v1", "peer", "assets", "login", "join", "mcp"})
# A page URL is short and plain; anything else is not a page.
MAX_PAGE_PATH = 512

__all__ = ["DEFAULT_DIR", "RESERVED", "routes", "with_pages"]


def _is_page(request: Request, path: str) -> bool:
    first = path.split("/", 1)[0]
    wants_html = "text/html" in request.headers.get("accept", "")
    return wants_html and first not in RESERVED and len(path) <= MAX_PAGE_PATH


def routes(directory: Path | None = None) -> list[BaseRoute]:
    """`/` and `/assets/*` from `directory` (the packaged files by default); none if absent."""
    folder = directory or DEFAULT_DIR
    if not (folder / "index.html").is_file():
        return []
    shell = folder / "index.html"

    async def index(request: Request) -> Response:
        return FileResponse(shell, headers={"Cache-Control": "no-cache"})

    return [
        Route("/", index, methods=["GET"]),
        Mount("/assets", StaticFiles(directory=folder / "assets", check_dir=False), name="assets"),
    ]


def with_pages(
    directory: Path | None, handler: Callable[[Request, Exception], Awaitable[Response]]
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """`handler` for Starlette's HTTP errors, except that a browser's GET of a path no route
    has (a page URL) gets the shell. Done here rather than by a catch-all route, so that a
    wrong method on a real route stays a 405."""
    shell = (directory or DEFAULT_DIR) / "index.html"

    async def handle(request: Request, exc: Exception) -> Response:
        page = request.url.path.lstrip("/")
        if (
            isinstance(exc, HTTPException)
            and exc.status_code == 404
            and request.method in ("GET", "HEAD")
            and _is_page(request, page)
            and shell.is_file()
        ):
            return FileResponse(shell, headers={"Cache-Control": "no-cache"})
        return await handler(request, exc)

    return handle
