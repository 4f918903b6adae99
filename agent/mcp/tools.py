"""Listing and calling the tools of this node's servers: arguments checked against the
tool's schema first, every call bounded, every outcome a `CallOutcome` (the routes turn some
into errors, the toolbox hands them all to the model as the tool's answer)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import anyio

from agent.core.errors import ApiError, Conflict, ServiceUnavailable
from agent.core.toolbox import MAX_TOOLS_PER_REQUEST
from agent.mcp.events import MCP_TOOL_CALLED, ToolCalled
from agent.mcp.models import MAX_SCHEMA_BYTES, MAX_TOOL_DESCRIPTION, McpTool
from agent.mcp.outcome import CallOutcome, ServerUnavailable
from agent.mcp.service import McpService

if TYPE_CHECKING:
    import mcp_types as types

    from agent.mcp.runtime import ServerRuntime


class LocalTools:
    def __init__(self, service: McpService) -> None:
        self.service = service

    @property
    def node_id(self) -> str:
        return self.service.node_id

    def runtime(self, name: str) -> ServerRuntime:
        record = self.service.record(name)
        runtime = self.service.runtimes.get(name)
        if not record.enabled or runtime is None:
            raise Conflict(f"MCP server {name!r} is disabled", code="MCP_SERVER_DISABLED")
        return runtime

    async def ready(self, name: str) -> ServerRuntime:
        runtime = self.runtime(name)
        try:
            await runtime.ready()
        except ServerUnavailable as exc:
            raise ServiceUnavailable(
                f"MCP server {name!r} is not running: {exc}",
                code="MCP_SERVER_FAILED",
                details={"reason": str(exc)},
            ) from None
        return runtime

    async def tools(self, name: str) -> list[McpTool]:
        runtime = await self.ready(name)
        return [self.tool_view(name, tool) for tool in runtime.tools[:MAX_TOOLS_PER_REQUEST]]

    async def all_tools(self) -> list[McpTool]:
        """Every enabled server's tools; one that cannot start contributes none."""
        found: list[McpTool] = []

        async def one(name: str) -> None:
            try:
                found.extend(await self.tools(name))
            except ApiError:
                return

        async with anyio.create_task_group() as group:
            for name, record in self.service.records.items():
                if record.enabled:
                    group.start_soon(one, name)
        found.sort(key=lambda t: (t.server, t.name))
        return found[: MAX_TOOLS_PER_REQUEST * 4]

    def tool_view(self, server: str, tool: types.Tool) -> McpTool:
        schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
        if len(json.dumps(schema, default=str)) > MAX_SCHEMA_BYTES:
            schema = {"type": "object"}
        return McpTool(
            server=server,
            node_id=self.node_id,
            name=tool.name,
            description=(tool.description or "")[:MAX_TOOL_DESCRIPTION],
            input_schema=schema,
        )

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], timeout: float | None
    ) -> CallOutcome:
        """Never raises for the tool's own failures; raises ApiError for an unknown or
        disabled server."""
        runtime = self.runtime(server)
        started = time.perf_counter()
        bound = timeout if timeout is not None else self.service.settings.mcp_call_timeout
        # The SDK is imported with the first call, not at agent start (a node without MCP
        # servers never pays for it).
        from agent.mcp.calling import call_tool

        outcome = await call_tool(runtime, tool, arguments, bound)
        duration = (time.perf_counter() - started) * 1000
        outcome = CallOutcome(
            outcome.kind,
            outcome.text,
            outcome.structured,
            outcome.content,
            duration,
            outcome.errors,
        )
        self.service.calls.labels(outcome.kind).inc()
        self.service.bus.publish(
            MCP_TOOL_CALLED,
            ToolCalled(
                server=server,
                tool=tool[:128],
                node_id=self.node_id,
                is_error=outcome.is_error,
                duration_ms=duration,
            ),
        )
        return outcome
