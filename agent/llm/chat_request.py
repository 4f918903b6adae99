"""What `POST /api/llm/chat` accepts, and the conversation and tools it asks for."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agent.core.errors import BadRequest
from agent.core.toolbox import Toolbox
from agent.core.wire import StrictModel
from agent.llm.chat import Messages
from agent.llm.grounding import BrainOptions
from agent.llm.remembering import MemoryOptions
from agent.llm.session_routes import no_session
from agent.llm.store import ChatStore

MAX_MCP_SERVERS = 32
# An MCP server's name, as the mcp subsystem accepts it.
ServerName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


class MessageIn(StrictModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: Annotated[str, Field(max_length=1_000_000)]


class ChatBody(StrictModel):
    model: Annotated[str, Field(min_length=1, max_length=300)]
    messages: Annotated[list[MessageIn], Field(max_length=10_000)] | None = None
    session_id: str | None = None
    message: Annotated[str, Field(max_length=1_000_000)] | None = None
    # Ollama's options (temperature, num_ctx...): open-ended, passed on as they are.
    options: dict[str, Any] = {}
    stream: bool = True
    use_brain: bool = False
    brain: BrainOptions | None = None
    use_memory: bool = False
    memory: MemoryOptions | None = None
    mcp_servers: (
        Annotated[list[ServerName], Field(max_length=MAX_MCP_SERVERS)] | Literal["all"] | None
    ) = None


def toolbox_for(body: ChatBody, tools: Toolbox | None) -> Toolbox | None:
    """The toolbox when the chat asks for tools; refused when this agent has none."""
    if not body.mcp_servers:
        return None
    if tools is None:
        raise BadRequest(
            "this agent runs no MCP subsystem, so a chat cannot use mcp_servers",
            code="FEATURE_UNAVAILABLE",
            details={"features": ["mcp_servers"]},
        )
    return tools


async def conversation(store: ChatStore, body: ChatBody) -> Messages:
    """The messages to send; with a session, its history and the new message (which is
    stored only once the request is accepted)."""
    if body.session_id is not None:
        if await store.session(body.session_id) is None:
            raise no_session(body.session_id)
        if body.message is None or body.messages is not None:
            raise BadRequest(
                "with session_id, send the new `message` (the session keeps the history)"
            )
        history = [
            {"role": m.role, "content": m.content} for m in await store.messages(body.session_id)
        ]
        return [*history, {"role": "user", "content": body.message}]
    if not body.messages or body.message is not None:
        raise BadRequest("send `messages`, or `session_id` with `message`")
    return [{"role": m.role, "content": m.content} for m in body.messages]
