"""Health, metrics and the API description."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.http import QueryParam, api_route, json_response, parse_query
from agent.core.metrics import PROMETHEUS_CONTENT_TYPE, Metrics
from agent.ops.health import HealthService
from agent.ops.models import (
    HealthAnswer,
    HealthProbe,
    MetricFamily,
    MetricsReport,
    OpenApiDocument,
)
from agent.ops.openapi import build_openapi

ANONYMOUS_REUSE_S = 1.0


class MetricsQuery(BaseModel):
    format: Literal["json", "prometheus"] = "json"


def build_routes(health: HealthService, metrics: Metrics) -> list[BaseRoute]:
    anonymous_answer: list[tuple[float, int]] = []

    async def get_health(request: Request) -> Response:
        if request.scope.get("state", {}).get("auth") is not None:
            status, report = await health.report()
            return json_response(HealthAnswer(report), status=status)
        # Anyone on the machine may ask whether the agent is up; the node id, version, home
        # path and check details are for the token holder. The answer is reused for a
        # moment so that anonymous polling cannot run the checks (a database scan) at will.
        now = time.monotonic()
        if not anonymous_answer or now - anonymous_answer[0][0] > ANONYMOUS_REUSE_S:
            status, _ = await health.report()
            anonymous_answer[:] = [(now, status)]
        status = anonymous_answer[0][1]
        probe = HealthProbe(status="ok" if status == 200 else "unhealthy")
        return json_response(HealthAnswer(probe), status=status)

    async def get_metrics(request: Request) -> Response:
        query = parse_query(request, MetricsQuery)
        if query.format == "prometheus":
            return Response(metrics.prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)
        families = [MetricFamily.model_validate(f) for f in metrics.as_json()]
        return json_response(MetricsReport(metrics=families, count=len(families)))

    async def get_openapi(request: Request) -> Response:
        document = build_openapi(request.app.routes, request.app.state.ctx.version)
        return json_response(OpenApiDocument.model_validate(document))

    return [
        api_route(
            "/api/health",
            get_health,
            methods=["GET"],
            tag="ops",
            public=True,
            summary="Health checks of this node, each with its own result (200 or 503); "
            "without credentials only {status: ok | unhealthy}.",
            responses={503: "one or more checks failed"},
            answer=HealthAnswer,
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
            answer=MetricsReport,
        ),
        api_route(
            "/api/openapi.json",
            get_openapi,
            methods=["GET"],
            tag="ops",
            summary="OpenAPI 3.1 description of every route.",
            answer=OpenApiDocument,
        ),
    ]
