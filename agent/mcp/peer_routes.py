"""What members ask of this node's servers: their tools (started on demand) and one call.
Bodies are bounded by the listener and validated as `PeerCallBody` before anything runs.

With `mcp_share_tools` off, members see no tools here and a call is refused (403
MCP_TOOLS_NOT_SHARED): a tool can act on this node as a task would, and a member may be
compromised."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import ApiError, BadRequest, Forbidden
from agent.core.http import json_response, read_json_value, validate
from agent.mcp.cluster import PEER_CALL, PEER_TOOLS, ClusterToolbox
from agent.mcp.models import PeerCallAnswer, PeerCallBody, PeerToolsAnswer
from agent.peer.listener import body_limit

CALL_BODY_LIMIT = 1024 * 1024


def build_peer_routes(toolbox: ClusterToolbox) -> list[BaseRoute]:
    local = toolbox.local
    settings = toolbox.service.settings

    async def tools(request: Request) -> Response:
        if not settings.mcp_share_tools:
            return json_response(PeerToolsAnswer(tools=[], disabled=[]))
        found = await local.all_tools()
        disabled = [n for n, r in local.service.records.items() if not r.enabled]
        return json_response(PeerToolsAnswer(tools=found, disabled=disabled))

    async def call(request: Request) -> Response:
        if not settings.mcp_share_tools:
            raise Forbidden(
                "this node does not share its MCP tools with other members",
                code="MCP_TOOLS_NOT_SHARED",
            )
        data = await read_json_value(request, CALL_BODY_LIMIT)
        if not isinstance(data, dict):
            raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
        ask = validate(PeerCallBody, data)
        try:
            outcome = await local.call(ask.server, ask.tool, ask.arguments, ask.timeout)
        except ApiError as exc:
            return json_response(
                PeerCallAnswer(text=exc.message, is_error=True, structured=None, duration_ms=0.0)
            )
        return json_response(
            PeerCallAnswer(
                text=outcome.text,
                is_error=outcome.is_error,
                structured=outcome.structured,
                duration_ms=outcome.duration_ms,
            )
        )

    return [
        Route(PEER_TOOLS, tools, methods=["GET"]),
        body_limit(Route(PEER_CALL, call, methods=["POST"]), CALL_BODY_LIMIT),
    ]
