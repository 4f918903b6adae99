"""HTTP surface of telemetry: a node's recent samples (another member's are asked of it), and
the peer route through which members answer for their own."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import NotFound
from agent.core.http import QueryParam, api_route, json_response, parse_query, read_json
from agent.core.subsystem import Context
from agent.telemetry.models import TelemetryHistory
from agent.telemetry.remote import PATH, HistoryAsk, member_history, thin
from agent.telemetry.service import TelemetryService


def query_model(window: float) -> type[BaseModel]:
    # the upper bound is a setting, so the model is made per service rather than at import
    class TelemetryQuery(BaseModel):
        model_config = ConfigDict(allow_inf_nan=False)
        seconds: float | None = Field(default=None, gt=0, le=window)

    return TelemetryQuery


def routes(service: TelemetryService, ctx: Context) -> list[BaseRoute]:
    query_type = query_model(service.window)

    async def node_telemetry(request: Request) -> Response:
        query = parse_query(request, query_type)
        seconds = getattr(query, "seconds", None)
        node_id = request.path_params["node_id"]
        if node_id == service.node_id:
            samples = service.history(seconds)
            history = TelemetryHistory(node_id=node_id, samples=samples, count=len(samples))
            return json_response(history)
        member = ctx.cluster.member(node_id)
        if member is None:
            raise NotFound(
                f"no node with id {node_id}", code="NODE_NOT_FOUND", details={"node_id": node_id}
            )
        return json_response(await member_history(ctx.peers, member, seconds))

    return [
        api_route(
            "/api/nodes/{node_id}/telemetry",
            node_telemetry,
            methods=["GET"],
            tag="telemetry",
            summary="Recent telemetry samples of a node, oldest first; another member's are "
            "asked of it (at most 1500, evenly spread).",
            query=[
                QueryParam(
                    "seconds",
                    "number",
                    f"Only samples from the last N seconds (0 < N <= {service.window:g})",
                )
            ],
            responses={
                400: "Invalid query",
                404: "NODE_NOT_FOUND",
                503: "NODE_UNREACHABLE (the member did not answer)",
            },
            answer=TelemetryHistory,
        )
    ]


def peer_routes(service: TelemetryService) -> list[BaseRoute]:
    async def history(request: Request) -> Response:
        ask = await read_json(request, HistoryAsk)
        samples = thin(service.history(ask.seconds), ask.limit)
        return json_response(
            TelemetryHistory(node_id=service.node_id, samples=samples, count=len(samples))
        )

    return [Route(PATH, history, methods=["POST"])]
