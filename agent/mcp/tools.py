"""Listing and calling the tools of this node's servers: arguments checked against the
tool's schema first, every call bounded, every outcome a `CallOutcome` (the routes turn some
into errors, the toolbox hands them all to the model as the tool's answer)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp import MCPError

from agent.core.errors import ApiError, Conflict, ServiceUnavailable
from agent.core.toolbox import MAX_TOOLS_PER_REQUEST
from agent.mcp.events import MCP_TOOL_CALLED, ToolCalled
from agent.mcp.models import MAX_SCHEMA_BYTES, MAX_TOOL_DESCRIPTION, McpTool
from agent.mcp.reasons import describe
from agent.mcp.results import (
    argument_errors,
    bounded,
    content_json,
    result_text,
    structured,
    summarise_errors,
)
from agent.mcp.runtime import ServerRuntime, ServerUnavailable
from agent.mcp.service import McpService

Kind = Literal["ok", "error", "unknown_tool", "invalid_arguments", "timeout", "unavailable"]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    kind: Kind
    text: str
    structured: dict[str, Any] | None = None
    content: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_error(self) -> bool:
        return self.kind != "ok"


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
        outcome = await self._call(runtime, tool, arguments, timeout)
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

    async def _call(
        self, runtime: ServerRuntime, tool: str, arguments: dict[str, Any], timeout: float | None
    ) -> CallOutcome:
        try:
            client = await runtime.ready()
        except ServerUnavailable as exc:
            return CallOutcome("unavailable", f"the server is not running: {exc}")
        spec = next((t for t in runtime.tools if t.name == tool), None)
        if spec is None:
            return CallOutcome("unknown_tool", f"no tool {tool[:128]!r} on {runtime.record.name}")
        errors = argument_errors(spec.input_schema, arguments)
        if errors:
            return CallOutcome("invalid_arguments", summarise_errors(errors), errors=errors)
        bound = timeout if timeout is not None else self.service.settings.mcp_call_timeout
        result: types.CallToolResult | None = None
        try:
            with anyio.move_on_after(bound):
                result = await client.call_tool(tool, arguments)
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                runtime.session_lost()
                return CallOutcome("unavailable", "the server closed the connection")
            return CallOutcome("error", runtime.redact(bounded(describe(exc))))
        except Exception as exc:
            return CallOutcome("error", runtime.redact(describe(exc)))
        if result is None:
            return CallOutcome("timeout", f"timed out after {bound:g} s")
        return CallOutcome(
            "error" if result.is_error else "ok",
            result_text(result),
            structured(result),
            content_json(result),
        )
