"""Health, metrics and the API description."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.http import QueryParam, api_route, json_response, parse_query
from agent.core.metrics import PROMETHEUS_CONTENT_TYPE, Metrics
from agent.ops.health import HealthService
from agent.ops.openapi import build_openapi


class MetricsQuery(BaseModel):
    format: Literal["json", "prometheus"] = "json"


def build_routes(health: HealthService, metrics: Metrics) -> list[BaseRoute]:
    async def get_health(request: Request) -> Response:
        status, body = await health.report()
        return json_response(body, status=status)

    async def get_metrics(request: Request) -> Response:
        query = parse_query(request, MetricsQuery)
        if query.format == "prometheus":
            return Response(metrics.prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)
        families = metrics.as_json()
        return json_response({"metrics": families, "count": len(families)})

    async def get_openapi(request: Request) -> Response:
        return json_response(build_openapi(request.app.routes, request.app.state.ctx.version))

    return [
        api_route(
            "/api/health",
            get_health,
            methods=["GET"],
            tag="ops",
            public=True,
            summary="Health checks of this node, each with its own result (200 or 503).",
            responses={503: "one or more checks failed"},
        ),
        api_route(
            "/api/metrics",
            get_metrics,
            methods=["GET"],
            tag="ops",
            summary="Operational counters as JSON, or Prometheus text with ?format=prometheus.",
            query=[
                QueryParam(
                    "format",
                    description="json (default) or prometheus",
                    enum=("json", "prometheus"),
                )
            ],
        ),
        api_route(
            "/api/openapi.json",
            get_openapi,
            methods=["GET"],
            tag="ops",
            summary="OpenAPI 3.1 description of every route.",
        ),
    ]
