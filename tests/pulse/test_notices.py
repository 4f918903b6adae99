"""Notices as insight cards: held by the evaluator beside its rules' cards (replaced by key,
dismissable, gone after 24 h), taken from members over the signed peer path with the sender
recorded, kept across a change of evaluator, and refused cleanly when nobody can hold them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware

from agent.core.errors import EXCEPTION_HANDLERS, ServiceUnavailable
from agent.core.middleware import ErrorBoundary
from agent.core.notices import Notice
from agent.peer.listener import BodyLimit
from agent.pulse.models import PeerInsightTable, PeerNotice
from agent.pulse.notices import MAX_NOTICES, NOTICE_TTL_S, NoticeBoard, PulseNotices, peer_notice
from agent.pulse.peer_routes import build_peer_routes
from agent.pulse.service import PulseService
from tests.pulse.fakes import FakeClock, FakeCluster, member, pulse_context
from tests.pulse.test_peer_routes import SENDER, SignedAs
from tests.pulse.test_service import EVALUATOR, LARGER

MEMBER = "zzzz-member"


def notice(key: str = "flow:nightly:s1", **changes: Any) -> PeerNotice:
    base = {
        "title": "Backup done",
        "message": "3 files",
        "severity": "info",
        "source": "flow nightly",
    }
    return PeerNotice.model_validate({**base, "key": key, **changes})


@pytest.fixture
async def pulse(tmp_path: Path) -> AsyncIterator[tuple[PulseService, FakeClock, FakeCluster]]:
    clock = FakeClock()
    async with pulse_context(tmp_path / "home", clock) as ctx:
        service = PulseService(ctx)
        await service.load()
        assert isinstance(ctx.cluster, FakeCluster)
        ctx.cluster.members_now = [
            member(service.node_id, "me", is_self=True),
            member(LARGER, "laptop"),
        ]
        yield service, clock, ctx.cluster


def test_the_board_replaces_by_key_expires_and_stays_bounded() -> None:
    board = NoticeBoard()
    first = board.raise_notice(notice(), "n1", "one", 100.0)
    again = board.raise_notice(
        notice(title="Backup failed", severity="critical"), "n1", "one", 200.0
    )
    assert first.id == again.id == "notice-card:flow:nightly:s1"
    assert [(c.title, c.severity, c.since) for c in board.active(300.0)] == [
        ("Backup failed", "critical", 200.0)
    ]
    assert board.active(200.0 + NOTICE_TTL_S) == []
    for n in range(MAX_NOTICES + 5):
        board.raise_notice(notice(f"k{n}"), "n1", "one", 1000.0 + n)
    held = board.active(2000.0)
    assert len(held) == MAX_NOTICES
    assert "notice-card:k0" not in {c.id for c in held}  # the oldest went first


def test_a_notice_is_cut_to_the_bounds_a_member_accepts() -> None:
    long = Notice(
        title="t" * 900, message="m" * 9000, severity="warning", source="s" * 900, key="k" * 900
    )
    held = peer_notice(long)
    assert len(held.title) == 200
    assert len(held.message) == 2000
    assert len(held.key) == 256


async def test_on_the_evaluator_a_notice_is_a_card_until_it_expires(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, _ = pulse
    card_id = await PulseNotices(service).notify(
        Notice("Disk check", "all fine", "info", source="flow disks", key="flow:disks:check")
    )
    [card] = service.insights(False).insights
    assert card.id == card_id
    assert (card.severity, card.source, card.node_id, card.node_name) == (
        "info",
        "flow disks",
        service.node_id,
        "me",
    )
    assert "flow disks" in card.why
    assert [e.topic for e in service.ctx.bus.recent(["pulse.insight"])] == ["pulse.insight.raised"]
    dismissed = await service.dismiss(card_id)
    assert dismissed.dismissed
    assert service.insights(False).insights == []
    assert [c.id for c in service.insights(True).insights] == [card_id]
    # The same key again shows a fresh card, dismissed no more.
    service.notice_here(notice("flow:disks:check"), service.node_id)
    assert [c.dismissed for c in service.insights(False).insights] == [False]
    clock.advance(NOTICE_TTL_S)
    await service.tick()
    assert service.insights(True).insights == []
    assert service.ctx.bus.recent(["pulse.insight.cleared"])


async def test_the_table_a_member_takes_may_hold_notices(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, _, cluster = pulse
    cluster.members_now = [member(service.node_id, is_self=True), member(EVALUATOR)]
    held = NoticeBoard().raise_notice(notice(), EVALUATOR, EVALUATOR, 5.0)
    assert service.receive(PeerInsightTable(revision=3, insights=[held]), EVALUATOR)
    assert [c.id for c in service.insights(False).insights] == [held.id]
    # The evaluator goes away: this node evaluates now and keeps the notice it was shown.
    cluster.members_now = [
        member(service.node_id, is_self=True),
        member(EVALUATOR, state="offline"),
    ]
    service.heard.clear()
    service.serve_own(cluster.members(), 10.0)
    assert service.table.origin == service.node_id
    assert [c.id for c in service.insights(False).insights] == [held.id]


async def test_a_notice_for_an_evaluator_that_cannot_be_reached_is_refused(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, _, cluster = pulse
    cluster.members_now = [member(service.node_id, is_self=True), member(EVALUATOR)]
    with pytest.raises(ServiceUnavailable) as refused:
        await service.notify(notice())
    assert refused.value.code == "PULSE_EVALUATOR_UNAVAILABLE"
    assert "hold the notice" in refused.value.message
    assert service.insights(True).insights == []


@pytest.fixture
async def peer(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> AsyncIterator[tuple[httpx.AsyncClient, PulseService, FakeCluster]]:
    service, _, cluster = pulse
    routes = build_peer_routes(service)
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ErrorBoundary, metrics=service.ctx.metrics),
            Middleware(BodyLimit, routes=routes, default=1024 * 1024),
            Middleware(SignedAs),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://peer") as client:
        yield client, service, cluster


def post(client: httpx.AsyncClient, body: Any, sender: str = LARGER) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {SENDER: sender, "content-type": "application/json"}
    return client.post("/peer/pulse/notice", content=content, headers=headers)


async def test_the_evaluator_holds_a_members_notice_as_that_member(
    peer: tuple[httpx.AsyncClient, PulseService, FakeCluster],
) -> None:
    client, service, _ = peer
    body = notice().model_dump()
    answer = await post(client, body)
    assert answer.status_code == 200, answer.text
    [card] = service.insights(False).insights
    assert answer.json()["id"] == card.id
    assert (card.node_id, card.node_name) == (LARGER, "laptop")  # the signed sender, by name


async def test_bad_notices_change_nothing(
    peer: tuple[httpx.AsyncClient, PulseService, FakeCluster],
) -> None:
    client, service, cluster = peer
    good = notice().model_dump()
    for bad in (
        {**good, "title": ""},
        {**good, "title": "t" * 201},
        {**good, "severity": "doom"},
        {**good, "key": "k" * 257},
        {**good, "evil": 1},
        {k: v for k, v in good.items() if k != "source"},
        [good],
        b"{nope",
        json.dumps({**good, "message": "m" * 40_000}).encode(),
    ):
        answer = await post(client, bad)
        assert answer.status_code in (400, 413), (bad, answer.text)
    assert service.insights(True).insights == []
    # Not the evaluator: refused, nothing held.
    cluster.members_now = [member(service.node_id, is_self=True), member(EVALUATOR)]
    answer = await post(client, good)
    assert answer.status_code == 409
    assert answer.json()["error_code"] == "NOT_EVALUATOR"
    assert service.notices.cards == {}
