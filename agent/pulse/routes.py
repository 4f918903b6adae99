"""HTTP handlers of Pulse: parse, call the service, answer its models. Any member answers
for the whole cluster: the cards are the evaluator's, a dismissal is forwarded to it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.errors import BadRequest
from agent.core.http import QueryParam, api_route, json_response, parse_query
from agent.core.wire import StrictModel
from agent.pulse.models import MAX_CARD_TEXT, Insight, InsightList, PulseHistory, WeeklyDigest
from agent.pulse.service import PulseService

TAG = "pulse"
MAX_HISTORY = 1000
Name = Annotated[str, Field(min_length=1, max_length=200)]


class InsightsQuery(StrictModel):
    include_dismissed: bool = False


class HistoryQuery(StrictModel):
    rule: Name | None = None
    node: Name | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_HISTORY)] = 200


class NoQuery(StrictModel):
    pass


def build_routes(service: PulseService) -> list[BaseRoute]:
    async def insights(request: Request) -> Response:
        query = parse_query(request, InsightsQuery)
        return json_response(service.insights(query.include_dismissed))

    async def dismiss(request: Request) -> Response:
        parse_query(request, NoQuery)
        key: str = request.path_params["insight_id"]
        if not 0 < len(key) <= MAX_CARD_TEXT or not key.isprintable():
            raise BadRequest("an insight id is 1 to 2000 printable characters", code="INVALID_ID")
        return json_response(await service.dismiss(key))

    async def history(request: Request) -> Response:
        query = parse_query(request, HistoryQuery)
        return json_response(await service.history(query.rule, query.node, query.limit))

    async def weekly(request: Request) -> Response:
        parse_query(request, NoQuery)
        return json_response(await service.weekly())

    return [
        api_route(
            "/api/pulse/insights",
            insights,
            methods=["GET"],
            tag=TAG,
            answer=InsightList,
            query=[
                QueryParam(
                    "include_dismissed", "boolean", description="Also the dismissed cards (false)"
                )
            ],
            summary="The cluster's active insight cards, critical first, then newest (any "
            "member answers the same).",
        ),
        api_route(
            "/api/pulse/insights/{insight_id:path}/dismiss",
            dismiss,
            methods=["POST"],
            tag=TAG,
            answer=Insight,
            summary="Hide a card until its condition clears and comes back, or gets worse.",
            responses={
                400: "INVALID_ID",
                404: "INSIGHT_NOT_FOUND",
                503: "PULSE_EVALUATOR_UNAVAILABLE",
            },
        ),
        api_route(
            "/api/pulse/history",
            history,
            methods=["GET"],
            tag=TAG,
            answer=PulseHistory,
            query=[
                QueryParam("rule", description="Only this rule's"),
                QueryParam("node", description="Only those about this node id"),
                QueryParam(
                    "limit",
                    "integer",
                    description=f"At most this many of each, 1 to {MAX_HISTORY} (200)",
                ),
            ],
            summary="This node's recent evaluations and the insights' state changes, most "
            "recent first.",
        ),
        api_route(
            "/api/pulse/weekly",
            weekly,
            methods=["GET"],
            tag=TAG,
            answer=WeeklyDigest,
            summary="The last 7 days: uptime per member, tasks run and failed, storage growth, "
            "tokens per model and node, the insights raised most.",
        ),
    ]
