"""Pulse's peer handlers behind the peer listener's body limit, with the signed sender set as
the listener sets it: malformed, oversized or foreign tables change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.core.errors import EXCEPTION_HANDLERS
from agent.core.middleware import ErrorBoundary
from agent.peer.listener import BodyLimit
from agent.pulse.models import PeerInsightTable
from agent.pulse.peer_routes import build_peer_routes
from agent.pulse.service import PulseService
from tests.pulse.fakes import FakeClock, FakeCluster, member, pulse_context, telemetry
from tests.pulse.test_service import EVALUATOR, LARGER, card

SENDER = "x-sender"


class SignedAs:
    """What the peer listener does once a signature checks out: name the sender."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = dict(scope["headers"]).get(SENDER.encode(), b"").decode()
        scope.setdefault("state", {})["peer_node"] = sender
        await self.app(scope, receive, send)


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, PulseService]]:
    async with pulse_context(tmp_path / "home", FakeClock()) as ctx:
        service = PulseService(ctx)
        await service.load()
        assert isinstance(ctx.cluster, FakeCluster)
        ctx.cluster.members_now = [
            member(service.node_id, is_self=True, sample=telemetry()),
            member(EVALUATOR),
        ]
        routes = build_peer_routes(service)
        app = Starlette(
            routes=routes,
            middleware=[
                Middleware(ErrorBoundary, metrics=ctx.metrics),
                Middleware(BodyLimit, routes=routes, default=1024 * 1024),
                Middleware(SignedAs),
            ],
            exception_handlers=EXCEPTION_HANDLERS,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://peer") as client:
            assert service.receive(PeerInsightTable(revision=1, insights=[card()]), EVALUATOR)
            yield client, service


def good_card(**changes: Any) -> dict[str, Any]:
    return {**card().model_dump(mode="json"), **changes}


def push_body(**changes: Any) -> bytes:
    return json.dumps({"revision": 9, "insights": [good_card()], **changes}).encode()


MALFORMED = {
    "not json": b"{nope",
    "deep nesting": b'{"insights": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "nan": b'{"revision": NaN, "insights": []}',
    "an array": b"[]",
    "unknown field": push_body(evil=1),
    "revision as text": push_body(revision="9"),
    "negative revision": push_body(revision=-1),
    "insights not a list": push_body(insights={"a": 1}),
    "card missing a field": push_body(insights=[{"id": "x"}]),
    "coerced number": push_body(insights=[good_card(since="1")]),
    "unknown severity": push_body(insights=[good_card(severity="panic")]),
    "too many cards": push_body(
        insights=[good_card(id=f"memory_pressure:{i:04}", node_id=f"{i:04}") for i in range(501)]
    ),
    "text too long": push_body(insights=[good_card(what="w" * 3000)]),
    "the same card twice": push_body(insights=[good_card(), good_card()]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_malformed_tables_are_400_and_change_nothing(
    peer: tuple[httpx.AsyncClient, PulseService], name: str
) -> None:
    client, service = peer
    before = service.insights(True)
    published = service.ctx.bus.published_total
    response = await client.post(
        "/peer/pulse/insights", content=MALFORMED[name], headers={SENDER: EVALUATOR}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] in ("INVALID_JSON", "VALIDATION_ERROR")
    assert service.insights(True) == before
    assert service.ctx.bus.published_total == published


async def test_oversized_and_foreign_tables_change_nothing(
    peer: tuple[httpx.AsyncClient, PulseService],
) -> None:
    client, service = peer
    before = service.insights(True)
    huge = push_body(insights=[good_card(why="y" * 1999)] * 400)
    response = await client.post("/peer/pulse/insights", content=huge, headers={SENDER: EVALUATOR})
    assert response.status_code == 413
    response = await client.post(
        "/peer/pulse/insights", content=push_body(insights=[]), headers={SENDER: LARGER}
    )
    assert response.status_code == 409
    assert response.json()["error_code"] == "NOT_EVALUATOR"
    assert service.insights(True) == before
    response = await client.post(
        "/peer/pulse/insights", content=push_body(insights=[]), headers={SENDER: EVALUATOR}
    )
    assert response.status_code == 200
    assert response.json() == {"accepted": True}
    assert service.insights(True).insights == []


async def test_dismiss_and_ledger_requests_are_validated(
    peer: tuple[httpx.AsyncClient, PulseService],
) -> None:
    client, _service = peer
    bad = [
        ("/peer/pulse/dismiss", {"insight_id": ""}),
        ("/peer/pulse/dismiss", {"insight_id": 5}),
        ("/peer/pulse/dismiss", {}),
        ("/peer/pulse/ledger", {"since": "0", "until": 1}),
        ("/peer/pulse/ledger", {"since": -1, "until": 1}),
        ("/peer/pulse/ledger", {"since": 0}),
    ]
    for path, body in bad:
        response = await client.post(path, json=body, headers={SENDER: EVALUATOR})
        assert response.status_code == 400, (path, body, response.text)
    response = await client.post(
        "/peer/pulse/dismiss", json={"insight_id": card().id}, headers={SENDER: EVALUATOR}
    )
    assert response.status_code == 409  # this node is not the evaluator
    response = await client.post(
        "/peer/pulse/ledger", json={"since": 0, "until": 1e10}, headers={SENDER: EVALUATOR}
    )
    assert response.status_code == 200
    assert response.json() == {"tasks": [], "tokens": []}
