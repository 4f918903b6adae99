"""The executor side of remote chats: `POST /peer/llm/chat` streams NDJSON generation events
from this node's Ollama (see `chat`), with the caller's `tools` offered to the model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from agent.core.http import read_json
from agent.core.toolbox import MAX_TOOLS_PER_REQUEST
from agent.llm.backend import OllamaBackend
from agent.llm.chat import local_generation


class RemoteChat(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    # Roles are passed on as the caller gave them (OpenAI clients send more than ours); an
    # assistant message may carry `tool_calls`, a tool result `tool_name`.
    messages: list[dict[str, Any]]
    # Ollama's options: open-ended, passed on as they are.
    options: dict[str, Any] = {}
    # Ollama's `format` ("json" or a JSON schema), passed on as it is.
    format: Literal["json"] | dict[str, Any] | None = None
    # Ollama's `tools` (functions the model may call), passed on as they are.
    tools: Annotated[list[dict[str, Any]], Field(max_length=MAX_TOOLS_PER_REQUEST)] | None = None


def build_peer_routes(backend: OllamaBackend) -> list[BaseRoute]:
    async def chat(request: Request) -> Response:
        body = await read_json(request, RemoteChat)
        events = await local_generation(
            backend, body.model, body.messages, body.options, body.format, body.tools
        )

        async def lines() -> AsyncIterator[bytes]:
            async for event in events:
                yield event.model_dump_json().encode() + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    return [Route("/peer/llm/chat", chat, methods=["POST"])]
