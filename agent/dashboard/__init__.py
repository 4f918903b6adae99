"""Serves the web dashboard, whose files ship inside this package (`static/`).

They live in the package, not beside it, so that a wheel carries them and an installed agent
serves the same page as a source checkout.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

# Wheels install unzipped, so the package's own folder is a real directory StaticFiles can use.
DEFAULT_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["DEFAULT_DIR", "routes"]


def routes(directory: Path | None = None) -> list[BaseRoute]:
    """`/` and `/assets/*` from `directory` (the packaged files by default); none if absent."""
    folder = directory or DEFAULT_DIR
    if not (folder / "index.html").is_file():
        return []

    async def index(request: Request) -> Response:
        return FileResponse(folder / "index.html", headers={"Cache-Control": "no-cache"})

    return [
        Route("/", index, methods=["GET"]),
        Mount("/assets", StaticFiles(directory=folder / "assets", check_dir=False), name="assets"),
    ]
