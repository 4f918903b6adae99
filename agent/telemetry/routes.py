"""HTTP surface of telemetry: this node's recent samples."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.errors import NotFound
from agent.core.http import QueryParam, api_route, json_response, parse_query
from agent.telemetry.models import TelemetryHistory
from agent.telemetry.service import TelemetryService


def query_model(window: float) -> type[BaseModel]:
    # the upper bound is a setting, so the model is made per service rather than at import
    class TelemetryQuery(BaseModel):
        model_config = ConfigDict(allow_inf_nan=False)
        seconds: float | None = Field(default=None, gt=0, le=window)

    return TelemetryQuery


def routes(service: TelemetryService) -> list[BaseRoute]:
    query_type = query_model(service.window)

    async def node_telemetry(request: Request) -> Response:
        query = parse_query(request, query_type)
        node_id = request.path_params["node_id"]
        if node_id != service.node_id:
            raise NotFound(
                f"no node with id {node_id}", code="NODE_NOT_FOUND", details={"node_id": node_id}
            )
        samples = service.history(getattr(query, "seconds", None))
        return json_response(TelemetryHistory(node_id=node_id, samples=samples, count=len(samples)))

    return [
        api_route(
            "/api/nodes/{node_id}/telemetry",
            node_telemetry,
            methods=["GET"],
            tag="telemetry",
            summary="Recent telemetry samples of a node, oldest first.",
            query=[
                QueryParam(
                    "seconds",
                    "number",
                    f"Only samples from the last N seconds (0 < N <= {service.window:g})",
                )
            ],
            responses={400: "Invalid query", 404: "NODE_NOT_FOUND"},
            answer=TelemetryHistory,
        )
    ]
