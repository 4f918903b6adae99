"""Serves the web dashboard, whose files ship inside this package (`static/`).

They live in the package, not beside it, so that a wheel carries them and an installed agent
serves the same page as a source checkout.

The dashboard is one page that routes in the browser, so every page URL (`/tasks`,
`/nodes/<id>`, ...) answers the same shell to a browser asking for HTML. Paths under the API's
own prefixes never do: an unknown API path stays a JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from agent.core.errors import NotFound

# Wheels install unzipped, so the package's own folder is a real directory StaticFiles can use.
DEFAULT_DIR = Path(__file__).resolve().parent / "static"
# First path segments that belong to the API, the peer channel or the assets, never to a page.
RESERVED = frozenset({"api", "v1", "peer", "assets", "login", "join", "mcp"})
# A page URL is short and plain; anything else is not a page.
MAX_PAGE_PATH = 512
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

__all__ = ["DEFAULT_DIR", "RESERVED", "routes"]


def _is_page(request: Request, path: str) -> bool:
    first = path.split("/", 1)[0]
    wants_html = "text/html" in request.headers.get("accept", "")
    return wants_html and first not in RESERVED and len(path) <= MAX_PAGE_PATH


def routes(directory: Path | None = None) -> list[BaseRoute]:
    """`/`, every page URL and `/assets/*` from `directory` (the packaged files by default)."""
    folder = directory or DEFAULT_DIR
    if not (folder / "index.html").is_file():
        return []
    shell = folder / "index.html"

    async def index(request: Request) -> Response:
        return FileResponse(shell, headers={"Cache-Control": "no-cache"})

    async def page(request: Request) -> Response:
        path: str = request.path_params["page"]
        if request.method not in ("GET", "HEAD") or not _is_page(request, path):
            raise NotFound(f"no route for {request.method} /{path}", code="NOT_FOUND")
        return FileResponse(shell, headers={"Cache-Control": "no-cache"})

    return [
        Route("/", index, methods=["GET"]),
        Mount("/assets", StaticFiles(directory=folder / "assets", check_dir=False), name="assets"),
        # Last, so that every real route matches first; any method, so that a wrong one on an
        # unknown path stays a 404 rather than a 405.
        Route("/{page:path}", page, methods=ANY_METHOD),
    ]
