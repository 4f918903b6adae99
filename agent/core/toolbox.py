"""What a subsystem may ask of the cluster's MCP tools.

The mcp subsystem owns the servers (their processes, sessions and credentials); the chat (and
later agents and flows) only list and call tools through `Toolbox`, which mcp provides as
`ctx.tools`. A tool is named by its server and its own name; the server may run on any member,
and a call to a tool hosted elsewhere goes through the peer channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

# Bounds the chat and other callers rely on, whatever a server declares.
MAX_TOOL_RESULT_CHARS = 100_000
MAX_TOOLS_PER_REQUEST = 128


@dataclass(frozen=True, slots=True)
class ToolSpec:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    node_id: str


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A tool call's result as the model will read it. `is_error` covers every failure the
    caller should see as the tool's answer rather than an exception: the server said the call
    failed, the arguments failed the tool's schema, the tool is unknown, the call timed out or
    the server is down. `text` is bounded by MAX_TOOL_RESULT_CHARS."""

    text: str
    is_error: bool
    structured: dict[str, Any] | None
    node_id: str
    duration_ms: float


class Toolbox(Protocol):
    async def tools(self, servers: list[str] | Literal["all"]) -> list[ToolSpec]:
        """The tools of the named enabled servers (or of every enabled server in the cluster
        for "all"), starting local servers on demand. Raises `ApiError` 404
        MCP_SERVER_NOT_FOUND for a name no member has configured, and 409 MCP_SERVER_DISABLED
        for a disabled one; a server that fails to start contributes no tools (and says why
        in its state)."""
        ...

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> ToolOutcome:
        """Run one tool call wherever its server is hosted; `timeout` None means the server's
        own bound. Never raises for the tool's own failures (see ToolOutcome)."""
        ...
