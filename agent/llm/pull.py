"""Pulling a model onto this node or a named member, with Ollama's progress relayed as SSE.

Events: `progress` {status, digest?, completed?, total?, percent?} as Ollama reports them, then
`done` {model, node_id} or `error` {error, error_code}. A pull on another member is one streamed
peer request (`POST /peer/llm/pull`) answered with NDJSON progress objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import ollama
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from agent.core.cluster import ClusterView
from agent.core.errors import Conflict, ServiceUnavailable, Unprocessable
from agent.core.http import api_route, read_json
from agent.core.sse import sse_response
from agent.core.wire import Answer, StrictModel
from agent.llm.events import MODEL_PULLED, ModelPulled
from agent.llm.models_streams import (
    PULL_STEP,
    PullFinished,
    PullProgress,
    PullStep,
    StreamError,
)
from agent.llm.service import LlmService
from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable


class PullBody(StrictModel):
    model: Annotated[str, Field(min_length=1, max_length=300)]
    node: str | None = None


class RemotePull(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str


def _progress(part: ollama.ProgressResponse) -> PullProgress:
    percent = round(100 * (part.completed or 0) / part.total, 1) if part.total else None
    return PullProgress(
        status=part.status,
        digest=part.digest,
        completed=part.completed,
        total=part.total,
        percent=percent,
    )


def _line(step: Answer) -> bytes:
    # Unset progress fields are left out, as Ollama leaves them out.
    return step.model_dump_json(exclude_none=True).encode() + b"\n"


async def local_pull(service: LlmService, model: str) -> AsyncIterator[PullStep]:
    """Progress reports, then `PullFinished` or a `StreamError`; never raises mid-stream."""
    try:
        async for part in await service.backend.client.pull(model, stream=True):
            yield _progress(part)
    except ollama.ResponseError as exc:
        yield StreamError(error=exc.error, error_code="PULL_FAILED")
        return
    except (httpx.HTTPError, ConnectionError, OSError) as exc:
        yield StreamError(
            error=f"Ollama is not available: {exc}", error_code="LLM_BACKEND_UNAVAILABLE"
        )
        return
    await service.refresh()
    yield PullFinished(done=True)


def build_pull_routes(
    service: LlmService, cluster: ClusterView, peers: PeerClient
) -> tuple[list[BaseRoute], list[BaseRoute]]:
    async def remote_lines(target: PeerTarget, model: str) -> AsyncIterator[PullStep]:
        node_id = target.node_id
        try:
            async with peers.stream(
                target, "POST", "/peer/llm/pull", json_body={"model": model}, timeout=None
            ) as response:
                async for line in response.aiter_lines():
                    if line:
                        yield _remote_step(node_id, line)
        except (PeerUnreachable, httpx.HTTPError) as exc:
            yield StreamError(
                error=f"lost contact with {node_id}: {exc}", error_code="LLM_BACKEND_UNAVAILABLE"
            )

    async def pull(request: Request) -> Response:
        body = await read_json(request, PullBody)
        node_id = body.node or cluster.node_id
        member = cluster.member(node_id)
        if member is None:
            raise Unprocessable(f"no node {node_id!r} in this cluster", code="UNKNOWN_NODE")
        if not member.online:
            raise Conflict(f"node {node_id} is {member.state}", code="NODE_OFFLINE")
        if member.is_self:
            await service.refresh()
            if not service.backend.snapshot.up:
                raise service.backend.down(service.backend.snapshot.reason)
            source = local_pull(service, body.model)
        else:
            source = remote_lines(member.target, body.model)

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for item in source:
                if isinstance(item, StreamError):
                    yield ServerSentEvent(data=item.model_dump_json(), event="error")
                    return
                if isinstance(item, PullFinished):
                    done = ModelPulled(model=body.model, node_id=node_id)
                    request.app.state.bus.publish(MODEL_PULLED, done)
                    yield ServerSentEvent(data=done.model_dump_json(), event="done")
                    return
                data = item.model_dump_json(exclude_none=True)
                yield ServerSentEvent(data=data, event="progress")

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
                yield _line(item)

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    local: list[BaseRoute] = [
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


def _remote_step(node_id: str, line: str) -> PullStep:
    try:
        return PULL_STEP.validate_json(line)
    except ValidationError:
        return StreamError(
            error=f"{node_id} sent a pull step of an unknown shape", error_code="LLM_REMOTE_ERROR"
        )
