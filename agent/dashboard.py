"""Serves the bundled web dashboard (the repository's `dashboard/` folder)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "dashboard"


def routes(directory: Path | None = None) -> list[BaseRoute]:
    folder = directory or DEFAULT_DIR
    if not (folder / "index.html").is_file():
        return []

    async def index(request: Request) -> Response:
        return FileResponse(folder / "index.html", headers={"Cache-Control": "no-cache"})

    return [
        Route("/", index, methods=["GET"]),
        Mount("/assets", StaticFiles(directory=folder / "assets", check_dir=False), name="assets"),
    ]
