"""Pulling a model onto this node or a named member, with Ollama's progress relayed as SSE.

Events: `progress` {status, digest?, completed?, total?, percent?} as Ollama reports them, then
`done` {model, node_id} or `error` {error, error_code}. A pull on another member is one streamed
peer request (`POST /peer/llm/pull`) answered with NDJSON progress objects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import ollama
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from agent.cluster.membership import ONLINE, Membership
from agent.core.errors import Conflict, ServiceUnavailable, Unprocessable
from agent.core.http import StrictModel, api_route, read_json
from agent.core.sse import sse_response
from agent.llm.service import LlmService
from agent.peer.client import PeerClient, PeerUnreachable


class PullBody(StrictModel):
    model: Annotated[str, Field(min_length=1, max_length=300)]
    node: str | None = None


class RemotePull(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str


def _progress(part: Any) -> dict[str, Any]:
    data = {
        "status": part.status,
        "digest": part.digest,
        "completed": part.completed,
        "total": part.total,
    }
    data = {k: v for k, v in data.items() if v is not None}
    if part.total:
        data["percent"] = round(100 * (part.completed or 0) / part.total, 1)
    return data


async def local_pull(service: LlmService, model: str) -> AsyncIterator[dict[str, Any]]:
    """Progress objects, then {"done": true} or {"error": ...}; never raises mid-stream."""
    try:
        async for part in await service.backend.client.pull(model, stream=True):
            yield _progress(part)
    except ollama.ResponseError as exc:
        yield {"error": exc.error, "error_code": "PULL_FAILED"}
        return
    except (httpx.HTTPError, ConnectionError, OSError) as exc:
        yield {"error": f"Ollama is not available: {exc}", "error_code": "LLM_BACKEND_UNAVAILABLE"}
        return
    await service.refresh()
    yield {"done": True}


def build_pull_routes(
    service: LlmService, membership: Membership, peers: PeerClient
) -> tuple[list[BaseRoute], list[BaseRoute]]:
    async def remote_lines(node_id: str, model: str) -> AsyncIterator[dict[str, Any]]:
        target = membership.target(membership.members[node_id])
        try:
            async with peers.stream(
                target, "POST", "/peer/llm/pull", json_body={"model": model}, timeout=None
            ) as response:
                async for line in response.aiter_lines():
                    if line:
                        yield json.loads(line)
        except (PeerUnreachable, httpx.HTTPError) as exc:
            yield {
                "error": f"lost contact with {node_id}: {exc}",
                "error_code": "LLM_BACKEND_UNAVAILABLE",
            }

    async def pull(request: Request) -> Response:
        body = await read_json(request, PullBody)
        node_id = body.node or membership.node_id
        member = membership.members.get(node_id)
        if member is None or member.status != "member":
            raise Unprocessable(f"no node {node_id!r} in this cluster", code="UNKNOWN_NODE")
        if membership.state_of(node_id) != ONLINE:
            raise Conflict(f"node {node_id} is {membership.state_of(node_id)}", code="NODE_OFFLINE")
        if node_id == membership.node_id:
            await service.refresh()
            if not service.backend.snapshot.up:
                raise service.backend.down(service.backend.snapshot.reason)
            source = local_pull(service, body.model)
        else:
            source = remote_lines(node_id, body.model)

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for item in source:
                if "error" in item:
                    yield ServerSentEvent(data=json.dumps(item), event="error")
                    return
                if item.get("done"):
                    done = {"model": body.model, "node_id": node_id}
                    request.app.state.bus.publish("llm.model.pulled", done)
                    yield ServerSentEvent(data=json.dumps(done), event="done")
                    return
                yield ServerSentEvent(data=json.dumps(item), event="progress")

        return sse_response(request, events())

    async def peer_pull(request: Request) -> Response:
        body = await read_json(request, RemotePull)
        if not service.backend.snapshot.up:
            await service.refresh()
            if not service.backend.snapshot.up:
                raise ServiceUnavailable(
                    "Ollama is not available here", code="LLM_BACKEND_UNAVAILABLE"
                )

        async def lines() -> AsyncIterator[bytes]:
            async for item in local_pull(service, body.model):
                yield json.dumps(item).encode() + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    local = [
        api_route(
            "/api/llm/pull",
            pull,
            methods=["POST"],
            tag="llm",
            body=PullBody,
            streams=True,
            summary="Pull a model onto this node or a named one; progress is streamed as SSE.",
            responses={409: "NODE_OFFLINE", 422: "UNKNOWN_NODE", 503: "LLM_BACKEND_UNAVAILABLE"},
        )
    ]
    return local, [Route("/peer/llm/pull", peer_pull, methods=["POST"])]
