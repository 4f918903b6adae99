"""HTTP handlers of memory: parse, call the service, answer its models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.errors import BadRequest
from agent.core.http import QueryParam, api_route, json_response, parse_query, read_json
from agent.core.wire import StrictModel
from agent.memory.models import (
    MAX_K,
    MAX_QUERY,
    AddFactAnswer,
    AddFactBody,
    FactList,
    FactRemoved,
    FactsCleared,
    FactSearchAnswer,
)
from agent.memory.service import MemoryService

TAG = "memory"


class ListQuery(StrictModel):
    include_superseded: bool = False


class ClearQuery(StrictModel):
    confirm: Annotated[str, Field(max_length=16)] | None = None


class SearchQuery(StrictModel):
    q: Annotated[str, Field(min_length=1, max_length=MAX_QUERY)]
    k: Annotated[int, Field(ge=1, le=MAX_K)] = 10


def build_routes(service: MemoryService) -> list[BaseRoute]:
    async def listing(request: Request) -> Response:
        query = parse_query(request, ListQuery)
        return json_response(await service.listing(query.include_superseded))

    async def add(request: Request) -> Response:
        answer = await service.add(await read_json(request, AddFactBody))
        return json_response(answer, status=200 if answer.outcome == "existing" else 201)

    async def delete(request: Request) -> Response:
        return json_response(await service.delete(request.path_params["fact_id"]))

    async def clear(request: Request) -> Response:
        if parse_query(request, ClearQuery).confirm != "true":
            raise BadRequest(
                "clearing removes every fact, history included: ask with ?confirm=true",
                code="CONFIRMATION_REQUIRED",
            )
        return json_response(await service.clear())

    async def search(request: Request) -> Response:
        query = parse_query(request, SearchQuery)
        if not query.q.strip():
            raise BadRequest(
                "q must not be blank", details={"fields": [{"field": "q", "message": "blank"}]}
            )
        return json_response(await service.search(query.q, query.k))

    return [
        api_route(
            "/api/memory",
            listing,
            methods=["GET"],
            tag=TAG,
            answer=FactList,
            query=[
                QueryParam(
                    "include_superseded", "boolean", "Also list facts replaced by newer ones"
                )
            ],
            summary="The cluster's active facts, newest first (with history on request).",
        ),
        api_route(
            "/api/memory",
            add,
            methods=["POST"],
            tag=TAG,
            body=AddFactBody,
            answer=AddFactAnswer,
            success=201,
            summary="Remember a fact: 201 created (or superseding the active facts with its "
            "key), 200 when the same fact is already active (nothing changes).",
            responses={
                200: "existing: the same fact was already active (an AddFactAnswer)",
                409: "MEMORY_FULL",
            },
        ),
        api_route(
            "/api/memory",
            clear,
            methods=["DELETE"],
            tag=TAG,
            answer=FactsCleared,
            query=[
                QueryParam("confirm", required=True, description="Must be `true`", enum=("true",))
            ],
            summary="Remove every fact on every member, history included.",
            responses={400: "CONFIRMATION_REQUIRED"},
        ),
        api_route(
            "/api/memory/search",
            search,
            methods=["GET"],
            tag=TAG,
            answer=FactSearchAnswer,
            query=[
                QueryParam("q", required=True, description="What to look for"),
                QueryParam("k", "integer", description=f"Hits wanted, 1 to {MAX_K} (10)"),
            ],
            summary="Active facts most similar in meaning to q, with cosine scores.",
            responses={503: "MEMORY_UNAVAILABLE"},
        ),
        api_route(
            "/api/memory/{fact_id}",
            delete,
            methods=["DELETE"],
            tag=TAG,
            answer=FactRemoved,
            summary="Delete a fact (active or in history) on every member.",
            responses={404: "FACT_NOT_FOUND"},
        ),
    ]
