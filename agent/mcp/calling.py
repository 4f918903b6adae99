"""One tool call on a running server: its arguments checked against the tool's schema
first, bounded in time, and every failure an outcome rather than an exception."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
from mcp import MCPError

from agent.mcp.outcome import CallOutcome, ServerUnavailable
from agent.mcp.reasons import describe
from agent.mcp.results import (
    argument_errors,
    bounded,
    content_json,
    result_text,
    structured,
    summarise_errors,
)
from agent.mcp.runtime import ServerRuntime


async def call_tool(
    runtime: ServerRuntime, tool: str, arguments: dict[str, Any], bound: float
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
