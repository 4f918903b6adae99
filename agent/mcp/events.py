"""Topics mcp publishes, on the node that runs the server. No payload carries a tool's
arguments or result, or a credential."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent.core.events import Topic
from agent.core.wire import Answer
from agent.mcp.models import ServerChange, ServerState


class ServerChanged(Answer):
    name: str
    node_id: str
    change: ServerChange


class ServerStateChanged(Answer):
    name: str
    node_id: str
    state: ServerState
    reason: str | None = Field(description="Why it failed, or why it is restarting")
    restarts: int
    tool_count: int | None


class ToolCalled(Answer):
    server: str
    tool: str
    node_id: str = Field(description="The node that runs the server")
    is_error: bool
    duration_ms: float


MCP_SERVER_CHANGED = Topic(
    "mcp.server.changed",
    ServerChanged,
    "A server was added, removed, enabled or disabled on this node.",
)
MCP_SERVER_STATE = Topic(
    "mcp.server.state",
    ServerStateChanged,
    "A server's state changed: starting, ready, failed (with the reason) or stopped; a "
    "restart after a crash says so in `reason` and `restarts`.",
)
MCP_TOOL_CALLED = Topic(
    "mcp.tool.called", ToolCalled, "A tool of a server on this node was called (any caller)."
)

TOPICS: tuple[Topic[Any], ...] = (MCP_SERVER_CHANGED, MCP_SERVER_STATE, MCP_TOOL_CALLED)
