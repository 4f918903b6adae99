"""What members ask of this node's Pulse: take the evaluator's table, dismiss a card or hold a
notice (on the evaluator), and this node's own ledger for the weekly digest. Bodies are
validated strictly (no coercion) before anything runs; the caller is the signed sender,
whatever a body says."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import BadRequest
from agent.core.http import json_response, read_json_value, validate
from agent.peer.listener import body_limit, peer_node
from agent.pulse.models import (
    PeerDismissBody,
    PeerInsightTable,
    PeerLedgerBody,
    PeerNotice,
    PeerTableAnswer,
)
from agent.pulse.service import PulseService
from agent.pulse.sync import DISMISS_PATH, LEDGER_PATH, NOTICE_PATH, TABLE_PATH
from agent.pulse.table import MAX_TABLE_BYTES

SMALL_BODY = 16 * 1024
Model = TypeVar("Model", bound=BaseModel)


async def _read(request: Request, model: type[Model], limit: int = SMALL_BODY) -> Model:
    data = await read_json_value(request, limit)
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
    return validate(model, data, strict=True)


def build_peer_routes(service: PulseService) -> list[BaseRoute]:
    async def table(request: Request) -> Response:
        pushed = await _read(request, PeerInsightTable, MAX_TABLE_BYTES)
        accepted = service.receive(pushed, peer_node(request))
        return json_response(PeerTableAnswer(accepted=accepted))

    async def dismiss(request: Request) -> Response:
        ask = await _read(request, PeerDismissBody)
        return json_response(await service.dismiss_here(ask.insight_id))

    async def notice(request: Request) -> Response:
        raised = await _read(request, PeerNotice)
        return json_response(service.notice_here(raised, peer_node(request)))

    async def ledger(request: Request) -> Response:
        ask = await _read(request, PeerLedgerBody)
        return json_response(service.own_ledger(ask.since, ask.until))

    return [
        body_limit(Route(TABLE_PATH, table, methods=["POST"]), MAX_TABLE_BYTES),
        body_limit(Route(DISMISS_PATH, dismiss, methods=["POST"]), SMALL_BODY),
        body_limit(Route(LEDGER_PATH, ledger, methods=["POST"]), SMALL_BODY),
        body_limit(Route(NOTICE_PATH, notice, methods=["POST"]), SMALL_BODY),
    ]
