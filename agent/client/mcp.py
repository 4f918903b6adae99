"""MCP calls (the Model Context Protocol servers each node runs, and their tools), mixed into
`AgentClient`.

    async with AgentClient(*discover()) as client:
        server = await client.mcp_add_builtin("time")
        print(server.name, server.state)
        answer = await client.mcp_test("time", "get_current_time", {"timezone": "UTC"})
        print(answer.result.text if answer.result else answer.tools, answer.timings.total_ms)

Servers belong to the node that runs their process: `mcp_servers()` lists this agent's, and
`mcp_all_tools()` gathers every enabled server's tools across the cluster. Credentials are
write-only: no answer carries their values, only their names (`credential_names`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from agent.client.transport import Transport
from agent.mcp.models import (
    AllTools,
    BuiltinList,
    McpServer,
    ServerDeleted,
    ServerList,
    ServerTools,
    ToolTestAnswer,
)

# Listing or calling tools may first start the server (up to the agent's mcp_start_timeout,
# 30 s by default) and then run the call (mcp_call_timeout, 60 s): a slow start must not read
# as an agent that does not answer.
TOOL_TIMEOUT = 120.0


def _server_path(name: str, *rest: str) -> str:
    return "/".join(["/api/mcp/servers", quote(name, safe=""), *rest])


class McpMixin(Transport):
    async def mcp_builtins(self) -> BuiltinList:
        """The integrations this node can add in one call (`mcp_add_builtin`), each with its
        options, the credentials it reads, what it needs and whether that is present."""
        return await self._get_model("/api/mcp/builtins", BuiltinList)

    async def mcp_servers(self) -> ServerList:
        """This node's configured servers with their state (stopped, starting, ready, failed
        with the reason), restarts and tool count."""
        return await self._get_model("/api/mcp/servers", ServerList)

    async def mcp_add(
        self,
        name: str,
        *,
        command: str | None = None,
        args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        credentials: Mapping[str, str] | None = None,
        enabled: bool = True,
        description: str = "",
    ) -> McpServer:
        """Configure a server on this node: a process over stdio (`command`, `args`, `env`,
        `cwd`) or a streamable HTTP endpoint (`url`, `headers`); give exactly one of
        `command` and `url`. `credentials` go to the server as env vars (stdio) or headers
        (http) and are never answered back.

        Refusals: MCP_SERVER_EXISTS (409, the name is taken), VALIDATION_ERROR or
        INVALID_REQUEST (400: a bad name or transport, credentials that are not env var names
        for a stdio server).
        """
        if (command is None) == (url is None):
            raise ValueError("give exactly one of command (stdio) and url (http)")
        transport: dict[str, Any]
        if command is not None:
            transport = {"type": "stdio", "command": command, "args": list(args)}
            transport.update(env=dict(env or {}), cwd=cwd)
        else:
            transport = {"type": "http", "url": url, "headers": dict(headers or {})}
        body = {"name": name, "transport": transport, "enabled": enabled}
        body.update(credentials=dict(credentials or {}), description=description)
        response = await self._request("POST", "/api/mcp/servers", json_body=body)
        return self._model(response, McpServer)

    async def mcp_add_builtin(
        self,
        builtin: str,
        *,
        name: str | None = None,
        options: Mapping[str, str] | None = None,
        credentials: Mapping[str, str] | None = None,
        enabled: bool = True,
    ) -> McpServer:
        """Add one of `mcp_builtins()` (named after it unless `name` is given).

        Refusals: MCP_BUILTIN_UNKNOWN, MCP_BUILTIN_UNAVAILABLE (400, with `details["needs"]`:
        what is missing), a missing required option (400), MCP_SERVER_EXISTS (409).
        """
        body: dict[str, Any] = {"builtin": builtin, "enabled": enabled}
        if name is not None:
            body["name"] = name
        if options:
            body["options"] = dict(options)
        if credentials:
            body["credentials"] = dict(credentials)
        response = await self._request("POST", "/api/mcp/servers", json_body=body)
        return self._model(response, McpServer)

    async def mcp_remove(self, name: str) -> ServerDeleted:
        """Stop the server (its whole process tree) and forget it, credentials included
        (MCP_SERVER_NOT_FOUND)."""
        return self._model(await self._request("DELETE", _server_path(name)), ServerDeleted)

    async def mcp_toggle(self, name: str, enabled: bool | None = None) -> McpServer:
        """Enable or disable the server (`enabled` None flips it); disabling stops its
        process (MCP_SERVER_NOT_FOUND)."""
        body = None if enabled is None else {"enabled": enabled}
        response = await self._request("PUT", _server_path(name, "toggle"), json_body=body)
        return self._model(response, McpServer)

    async def mcp_tools(self, name: str) -> ServerTools:
        """The server's tools (name, description, input schema), starting it if needed.

        Refusals: MCP_SERVER_NOT_FOUND (404), MCP_SERVER_DISABLED (409), MCP_SERVER_FAILED
        (503, with the reason).
        """
        response = await self._request("GET", _server_path(name, "tools"), timeout=TOOL_TIMEOUT)
        return self._model(response, ServerTools)

    async def mcp_test(
        self, name: str, tool: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> ToolTestAnswer:
        """Start the server if needed and call `tool` with `arguments` (or, without a tool,
        list the tools); answers the result and the timings. A tool's own failure is a result
        with `is_error`, not a refusal.

        Refusals: MCP_SERVER_NOT_FOUND, MCP_TOOL_NOT_FOUND (404), MCP_TOOL_ARGUMENTS_INVALID
        (400, the schema errors in details), MCP_SERVER_DISABLED (409), MCP_SERVER_FAILED
        (503), MCP_TIMEOUT (504).
        """
        body: dict[str, Any] = {}
        if tool is not None:
            body = {"tool": tool, "arguments": dict(arguments or {})}
        elif arguments:
            raise ValueError("arguments go with a tool")
        path = _server_path(name, "test")
        response = await self._request("POST", path, json_body=body, timeout=TOOL_TIMEOUT)
        return self._model(response, ToolTestAnswer)

    async def mcp_all_tools(self) -> AllTools:
        """Every enabled server's tools on every online member, each with the node that hosts
        its server; members that did not answer are listed in `unreachable`."""
        response = await self._request("GET", "/api/mcp/servers/tools/all", timeout=TOOL_TIMEOUT)
        return self._model(response, AllTools)
