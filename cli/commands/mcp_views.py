"""How `openfabric mcp` answers read in a terminal: servers with their state and why, tools
with a one-line summary of their arguments, a test call's result and timings."""

from __future__ import annotations

import time
from typing import Any

from agent.mcp.models import (
    AllTools,
    BuiltinList,
    McpServer,
    McpTool,
    ServerList,
    ServerTools,
    ToolTestAnswer,
)
from cli import output

TEXT_WIDTH = 60
MAX_SCHEMA_PARAMS = 8


def flat(text: str, width: int = TEXT_WIDTH) -> str:
    """`text` on one line, cut to `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def state_text(server: McpServer, now: float | None = None) -> str:
    """ "ready", "failed: <reason>", "starting (restarting in 3s: <reason>)"."""
    state = server.state if server.enabled else f"{server.state}, disabled"
    extra = []
    if server.next_restart_at is not None:
        wait = max(0, round(server.next_restart_at - (time.time() if now is None else now)))
        extra.append(f"restarting in {wait}s")
    if server.reason:
        extra.append(flat(server.reason, 80))
    return f"{state}: {'; '.join(extra)}" if extra else state


def transport_text(server: McpServer) -> str:
    transport = server.transport
    if transport.type == "http":
        return flat(transport.url, 50)
    return flat(" ".join([transport.command, *transport.args]), 50)


def servers_view(listing: ServerList) -> str:
    if not listing.servers:
        return "no MCP servers on this node (add one: openfabric mcp add --builtin time)"
    rows = [
        [
            server.name,
            server.builtin or "-",
            state_text(server),
            server.restarts,
            "-" if server.tool_count is None else server.tool_count,
            ",".join(server.credential_names) or "-",
            transport_text(server),
        ]
        for server in listing.servers
    ]
    headers = ["NAME", "BUILTIN", "STATE", "RESTARTS", "TOOLS", "CREDENTIALS", "COMMAND/URL"]
    return output.table(headers, rows)


def server_line(server: McpServer, verb: str) -> str:
    return f"{verb} {server.name} ({server.transport.type}, {state_text(server)})"


def builtins_view(listing: BuiltinList) -> str:
    rows = []
    for builtin in listing.builtins:
        missing = [need for need in builtin.needs if not need.present]
        if builtin.available:
            available = "yes"
        else:
            available = "no: " + "; ".join(
                f"{n.what} ({n.hint})" if n.hint else n.what for n in missing
            )
        options = [f"{o.name}{'*' if o.required else ''}" for o in builtin.options]
        rows.append(
            [
                builtin.name,
                builtin.transport_type,
                ",".join(options) or "-",
                ",".join(builtin.credentials) or "-",
                available,
                flat(builtin.description),
            ]
        )
    headers = ["NAME", "TRANSPORT", "OPTIONS", "CREDENTIALS", "AVAILABLE", "DESCRIPTION"]
    return output.table(headers, rows) + "\n(* a required option: --option NAME=VALUE)"


def _type_of(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "any"
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(map(str, kind))
    return str(kind) if kind else ("enum" if "enum" in schema else "any")


def schema_summary(schema: dict[str, Any]) -> str:
    """ "timezone: string*, limit: integer" (* required), or "-" for no arguments."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return "-"
    required = schema.get("required")
    needed = set(map(str, required)) if isinstance(required, list) else set()
    names = list(properties)
    shown = [
        f"{n}: {_type_of(properties[n])}{'*' * (n in needed)}" for n in names[:MAX_SCHEMA_PARAMS]
    ]
    if len(names) > MAX_SCHEMA_PARAMS:
        shown.append(f"+{len(names) - MAX_SCHEMA_PARAMS} more")
    return ", ".join(shown)


def tool_rows(tools: list[McpTool]) -> list[list[Any]]:
    return [[t.name, schema_summary(t.input_schema), flat(t.description)] for t in tools]


def tools_view(listing: ServerTools) -> str:
    if not listing.tools:
        return f"{listing.server} offers no tools"
    return output.table(["TOOL", "ARGUMENTS", "DESCRIPTION"], tool_rows(listing.tools))


def all_tools_view(listing: AllTools, unreachable: list[str]) -> str:
    rows = [
        [t.server, t.node_name or output.short_id(t.node_id), t.name, flat(t.description)]
        for t in listing.tools
    ]
    text = output.table(["SERVER", "NODE", "TOOL", "DESCRIPTION"], rows) if rows else "no tools"
    if unreachable:
        text += "\nno answer from: " + ", ".join(unreachable)
    return text


def timings_text(answer: ToolTestAnswer) -> str:
    timings = answer.timings
    parts = [] if timings.start_ms is None else [f"start {timings.start_ms:.1f} ms"]
    parts += [f"call {timings.call_ms:.1f} ms", f"total {timings.total_ms:.1f} ms"]
    return " · ".join(parts)


def test_view(answer: ToolTestAnswer) -> str:
    if answer.result is None:
        tools = answer.tools or []
        table = output.table(["TOOL", "ARGUMENTS", "DESCRIPTION"], tool_rows(tools))
        return f"{table if tools else 'no tools'}\n{timings_text(answer)}"
    result = answer.result
    head = f"{answer.server} · {answer.tool}: {'error' if result.is_error else 'ok'}"
    return f"{head} ({timings_text(answer)})\n{result.text}"
