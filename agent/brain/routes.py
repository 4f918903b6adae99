"""HTTP handlers of the brain: parse, call the service, answer its models.

`POST /api/brain/reindex` answers an SSE stream: `progress` about twice a second, then
`done` (both `ReindexProgress`). The scan belongs to the agent, not to the request: a client
that goes away stops reading, not the scan.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import Field
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.brain.models import (
    MAX_K,
    MAX_PATH,
    MAX_QUERY,
    BrainForgotten,
    BrainSearchAnswer,
    BrainStatus,
    ReindexBody,
    SearchMode,
)
from agent.brain.service import PROGRESS_S, BrainService
from agent.core.errors import BadRequest
from agent.core.http import QueryParam, api_route, json_response, parse_query, read_json
from agent.core.sse import sse_response
from agent.core.wire import StrictModel

TAG = "brain"
_HASH = re.compile(r"[0-9a-f]{64}")


class SearchQuery(StrictModel):
    q: Annotated[str, Field(min_length=1, max_length=MAX_QUERY)]
    k: Annotated[int, Field(ge=1, le=MAX_K)] = 10
    mode: SearchMode = "hybrid"
    node: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    path: Annotated[str, Field(min_length=1, max_length=MAX_PATH)] | None = None


def build_routes(service: BrainService) -> list[BaseRoute]:
    async def status(request: Request) -> Response:
        return json_response(await service.status())

    async def reindex(request: Request) -> Response:
        body = await read_json(request, ReindexBody)
        scan = await service.reindex(body.paths, body.sources)

        async def stream() -> AsyncIterator[ServerSentEvent]:
            async for progress in scan.follow(PROGRESS_S):
                kind = "done" if progress.done else "progress"
                yield ServerSentEvent(data=progress.model_dump_json(), event=kind)

        return sse_response(request, stream())

    async def search(request: Request) -> Response:
        query = parse_query(request, SearchQuery)
        if not query.q.strip():
            raise BadRequest(
                "q must not be blank",
                details={"fields": [{"field": "q", "message": "blank"}]},
            )
        service.require()
        answer = await service.search(query.q, query.k, query.mode, query.path, query.node)
        return json_response(answer)

    async def forget(request: Request) -> Response:
        content_hash = request.path_params["content_hash"]
        if not _HASH.fullmatch(content_hash):
            raise BadRequest(
                "a content hash is the file's SHA-256: 64 lowercase hex digits",
                code="INVALID_HASH",
            )
        return json_response(await service.forget(content_hash))

    return [
        api_route(
            "/api/brain/status",
            status,
            methods=["GET"],
            tag=TAG,
            answer=BrainStatus,
            summary="This node's index: sources, files, chunks, skipped files, model, queue.",
        ),
        api_route(
            "/api/brain/reindex",
            reindex,
            methods=["POST"],
            tag=TAG,
            body=ReindexBody,
            streams=True,
            summary="Rescan the sources (or some paths within them; `sources` replaces the "
            "list) with SSE progress, then done.",
            responses={
                400: "PATH_OUTSIDE_SOURCES | SOURCE_NOT_FOUND | INVALID_PATH",
                503: "BRAIN_UNAVAILABLE",
            },
        ),
        api_route(
            "/api/brain/search",
            search,
            methods=["GET"],
            tag=TAG,
            answer=BrainSearchAnswer,
            query=[
                QueryParam("q", required=True, description="What to look for"),
                QueryParam("k", "integer", description=f"Hits wanted, 1 to {MAX_K} (10)"),
                QueryParam("mode", enum=("hybrid", "vector", "lexical")),
                QueryParam("node", description="Search only this member"),
                QueryParam("path", description="Only files at or below this path"),
            ],
            summary="Search every online member's index (hybrid, vector or lexical); members "
            "not searched are named.",
            responses={404: "NODE_NOT_FOUND", 503: "BRAIN_UNAVAILABLE"},
        ),
        api_route(
            "/api/brain/index/{content_hash}",
            forget,
            methods=["DELETE"],
            tag=TAG,
            answer=BrainForgotten,
            summary="Remove every chunk of the files with this content hash (kept out until "
            "they change).",
            responses={400: "INVALID_HASH", 404: "HASH_NOT_FOUND"},
        ),
    ]
