"""HTTP handlers of mcp: parse, call the service, answer its models."""

from __future__ import annotations

import re
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.errors import ApiError, BadRequest, NotFound
from agent.core.http import api_route, json_response, read_json
from agent.mcp.cluster import ClusterToolbox
from agent.mcp.models import (
    NAME_PATTERN,
    AllTools,
    BuiltinList,
    CreateServerBody,
    McpServer,
    ServerDeleted,
    ServerList,
    ServerTools,
    ToggleBody,
    ToolResult,
    ToolTestAnswer,
    ToolTestBody,
    ToolTestTimings,
)
from agent.mcp.service import McpService

TAG = "mcp"
_NAME = re.compile(NAME_PATTERN)
_SERVER = {404: "MCP_SERVER_NOT_FOUND"}


def _name(request: Request) -> str:
    name: str = request.path_params["name"]
    if not _NAME.fullmatch(name):
        raise NotFound(f"no MCP server {name[:64]!r} on this node", code="MCP_SERVER_NOT_FOUND")
    return name


def build_routes(service: McpService, toolbox: ClusterToolbox) -> list[BaseRoute]:
    local = toolbox.local

    async def listing(request: Request) -> Response:
        return json_response(service.listing())

    async def create(request: Request) -> Response:
        return json_response(await service.create(await read_json(request, CreateServerBody)), 201)

    async def delete(request: Request) -> Response:
        return json_response(await service.delete(_name(request)))

    async def toggle(request: Request) -> Response:
        body = await read_json(request, ToggleBody)
        return json_response(await service.toggle(_name(request), body.enabled))

    async def tools(request: Request) -> Response:
        name = _name(request)
        found = await local.tools(name)
        return json_response(
            ServerTools(server=name, node_id=local.node_id, tools=found, count=len(found))
        )

    async def test(request: Request) -> Response:
        name = _name(request)
        body = await read_json(request, ToolTestBody)
        began = time.perf_counter()
        runtime = local.runtime(name)
        was_running = runtime.status.state == "ready"
        await local.ready(name)
        started = time.perf_counter()
        start_ms = None if was_running else (started - began) * 1000
        if body.tool is None:
            listed = await local.tools(name)
            done = time.perf_counter()
            answer = ToolTestAnswer(
                server=name,
                node_id=local.node_id,
                tool=None,
                tools=listed,
                result=None,
                timings=ToolTestTimings(
                    start_ms=start_ms,
                    call_ms=(done - started) * 1000,
                    total_ms=(done - began) * 1000,
                ),
            )
            return json_response(answer)
        outcome = await local.call(name, body.tool, body.arguments, None)
        done = time.perf_counter()
        _refuse(outcome.kind, outcome.text, outcome.errors, name, body.tool)
        return json_response(
            ToolTestAnswer(
                server=name,
                node_id=local.node_id,
                tool=body.tool,
                tools=None,
                result=ToolResult(
                    text=outcome.text,
                    is_error=outcome.is_error,
                    structured=outcome.structured,
                    content=outcome.content,
                ),
                timings=ToolTestTimings(
                    start_ms=start_ms,
                    call_ms=outcome.duration_ms,
                    total_ms=(done - began) * 1000,
                ),
            )
        )

    async def all_tools(request: Request) -> Response:
        found, unreachable, _ = await toolbox.everywhere()
        return json_response(AllTools(tools=found, count=len(found), unreachable=unreachable))

    async def builtins(request: Request) -> Response:
        return json_response(service.builtins())

    return [
        api_route(
            "/api/mcp/servers",
            listing,
            methods=["GET"],
            tag=TAG,
            answer=ServerList,
            summary="This node's MCP servers with their state (credentials never shown).",
        ),
        api_route(
            "/api/mcp/servers",
            create,
            methods=["POST"],
            tag=TAG,
            body=CreateServerBody,
            answer=McpServer,
            success=201,
            summary="Add a server: a full definition (stdio or http transport) or a builtin.",
            responses={
                400: "VALIDATION_ERROR, MCP_BUILTIN_UNKNOWN, MCP_BUILTIN_UNAVAILABLE, "
                "MCP_BUILTIN_OPTIONS",
                409: "MCP_SERVER_EXISTS, MCP_SERVERS_FULL",
            },
        ),
        api_route(
            "/api/mcp/servers/tools/all",
            all_tools,
            methods=["GET"],
            tag=TAG,
            answer=AllTools,
            summary="Every enabled server's tools on every online member, with its node.",
        ),
        api_route(
            "/api/mcp/servers/{name}",
            delete,
            methods=["DELETE"],
            tag=TAG,
            answer=ServerDeleted,
            summary="Stop a server (no process left) and forget it and its credentials.",
            responses=_SERVER,
        ),
        api_route(
            "/api/mcp/servers/{name}/toggle",
            toggle,
            methods=["PUT"],
            tag=TAG,
            body=ToggleBody,
            answer=McpServer,
            summary="Enable or disable a server (no body: flip); disabling stops it.",
            responses=_SERVER,
        ),
        api_route(
            "/api/mcp/servers/{name}/tools",
            tools,
            methods=["GET"],
            tag=TAG,
            answer=ServerTools,
            summary="A server's tools (it starts on demand).",
            responses={**_SERVER, 409: "MCP_SERVER_DISABLED", 503: "MCP_SERVER_FAILED"},
        ),
        api_route(
            "/api/mcp/servers/{name}/test",
            test,
            methods=["POST"],
            tag=TAG,
            body=ToolTestBody,
            answer=ToolTestAnswer,
            summary="Start a server and call one tool (or list its tools), with timings.",
            responses={
                400: "MCP_TOOL_ARGUMENTS_INVALID",
                404: "MCP_SERVER_NOT_FOUND, MCP_TOOL_NOT_FOUND",
                409: "MCP_SERVER_DISABLED",
                503: "MCP_SERVER_FAILED",
                504: "MCP_TIMEOUT",
            },
        ),
        api_route(
            "/api/mcp/builtins",
            builtins,
            methods=["GET"],
            tag=TAG,
            answer=BuiltinList,
            summary="Integrations that can be added in one call, with what each needs.",
        ),
    ]


def _refuse(kind: str, text: str, errors: list[dict[str, str]], server: str, tool: str) -> None:
    if kind == "unknown_tool":
        raise NotFound(text, code="MCP_TOOL_NOT_FOUND", details={"server": server, "tool": tool})
    if kind == "invalid_arguments":
        raise BadRequest(text, code="MCP_TOOL_ARGUMENTS_INVALID", details={"errors": errors})
    if kind == "timeout":
        raise ApiError(text, status=504, code="MCP_TIMEOUT")
    if kind == "unavailable":
        raise ApiError(text, status=503, code="MCP_SERVER_FAILED")
