"""A `Toolbox` over MCP servers run in this process, reached through the SDK's own client: the
chat's tool loop against real MCP servers without the mcp subsystem."""

from __future__ import annotations

import time
from typing import Any, Literal

from mcp import Client
from mcp.server.mcpserver import MCPServer

from agent.core.errors import NotFound
from agent.core.toolbox import MAX_TOOL_RESULT_CHARS, ToolOutcome, ToolSpec

NODE = "n-local"


class SdkToolbox:
    def __init__(self, servers: dict[str, MCPServer[Any]]) -> None:
        self.servers = servers
        self.calls: list[tuple[str, str, dict[str, Any], float | None]] = []

    async def tools(self, servers: list[str] | Literal["all"]) -> list[ToolSpec]:
        names = sorted(self.servers) if servers == "all" else servers
        found: list[ToolSpec] = []
        for name in names:
            if name not in self.servers:
                raise NotFound(f"no MCP server {name!r}", code="MCP_SERVER_NOT_FOUND")
            async with Client(self.servers[name]) as client:
                listed = await client.list_tools()
            found += [
                ToolSpec(name, t.name, t.description or "", dict(t.input_schema), NODE)
                for t in listed.tools
            ]
        return found

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> ToolOutcome:
        self.calls.append((server, tool, arguments, timeout))
        began = time.perf_counter()
        async with Client(self.servers[server]) as client:
            result = await client.call_tool(tool, arguments)
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        return ToolOutcome(
            text=text[:MAX_TOOL_RESULT_CHARS],
            is_error=result.is_error,
            structured=result.structured_content,
            node_id=NODE,
            duration_ms=(time.perf_counter() - began) * 1000,
        )
