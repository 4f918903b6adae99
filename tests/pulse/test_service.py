"""The service around the evaluator, on a real database and bus with a fake cluster and
clock: dismissal semantics, one evaluator and its table, hostile tables, history."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.core.cluster import MemberView
from agent.core.errors import Conflict, NotFound, ServiceUnavailable
from agent.pulse.models import Insight, PeerInsightTable
from agent.pulse.service import PulseService
from tests.pulse.fakes import FakeClock, FakeCluster, member, pulse_context, telemetry

EVALUATOR = "0aaa"  # smaller than any real node id (base32: a-z, 2-7)
SMALLER = "0000"
LARGER = "zzzz"
MEMORY = "memory_pressure"


@pytest.fixture
async def pulse(tmp_path: Path) -> AsyncIterator[tuple[PulseService, FakeClock, FakeCluster]]:
    clock = FakeClock()
    async with pulse_context(tmp_path / "home", clock) as ctx:
        service = PulseService(ctx)
        await service.load()
        cluster = ctx.cluster
        assert isinstance(cluster, FakeCluster)
        yield service, clock, cluster


def me(service: PulseService, memory: float = 40.0) -> MemberView:
    return member(service.node_id, "me", is_self=True, sample=telemetry(memory=memory))


async def hold(service: PulseService, clock: FakeClock, seconds: float, step: float = 10) -> None:
    for _ in range(int(seconds // step)):
        clock.advance(step)
        await service.tick()


async def set_memory(
    service: PulseService, clock: FakeClock, cluster: FakeCluster, percent: float, seconds: float
) -> None:
    cluster.members_now = [me(service, percent)]
    await hold(service, clock, seconds)


def events(service: PulseService) -> list[tuple[str, str, str]]:
    return [
        (e.topic.rsplit(".", 1)[1], e.data["id"], e.data["severity"])
        for e in service.ctx.bus.recent(["pulse.insight"])
    ]


def card_id(service: PulseService) -> str:
    return f"{MEMORY}:{service.node_id}"


async def test_dismissal_lasts_until_the_condition_clears_or_gets_worse(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, cluster = pulse
    key = card_id(service)
    await set_memory(service, clock, cluster, 92, 200)
    assert [c.id for c in service.insights(False).insights] == [key]
    card = await service.dismiss(key)
    assert card.dismissed
    assert card.id == key
    assert service.insights(False).insights == []
    listed = service.insights(True).insights
    assert [(c.id, c.dismissed) for c in listed] == [(key, True)]
    again = await service.dismiss(key)  # idempotent: no second change
    assert again.dismissed
    await set_memory(service, clock, cluster, 92, 300)
    assert service.insights(False).insights == []
    # Worse: shown again, raised again.
    await set_memory(service, clock, cluster, 99, 200)
    shown = service.insights(False).insights
    assert [(c.id, c.severity, c.dismissed) for c in shown] == [(key, "critical", False)]
    await service.dismiss(key)
    # Calmer (critical to warning) keeps it dismissed.
    await set_memory(service, clock, cluster, 92, 200)
    assert service.insights(False).insights == []
    assert service.insights(True).insights[0].severity == "warning"
    # Cleared, then back: shown again.
    await set_memory(service, clock, cluster, 10, 200)
    assert service.insights(True).insights == []
    await set_memory(service, clock, cluster, 92, 200)
    assert [(c.id, c.dismissed) for c in service.insights(False).insights] == [(key, False)]
    assert events(service) == [
        ("raised", key, "warning"),
        ("raised", key, "critical"),
        ("cleared", key, "warning"),
        ("raised", key, "warning"),
    ]
    history = await service.history(MEMORY, None, 1000)
    dismissals = [c for c in history.changes if c.dismissed]
    assert len(dismissals) == 2
    assert all(c.from_status == c.to_status for c in dismissals)


async def test_dismissing_what_is_not_active_is_404(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, cluster = pulse
    await set_memory(service, clock, cluster, 10, 50)
    for key in (card_id(service), "nothing", f"{MEMORY}:{LARGER}"):
        with pytest.raises(NotFound) as caught:
            await service.dismiss(key)
        assert caught.value.code == "INSIGHT_NOT_FOUND"


def table(revision: int, *cards: Insight) -> PeerInsightTable:
    return PeerInsightTable(revision=revision, insights=list(cards))


def card(node_id: str = EVALUATOR, **changes: Any) -> Insight:
    base = {
        "id": f"{MEMORY}:{node_id}",
        "rule": MEMORY,
        "severity": "warning",
        "title": "Memory pressure",
        "what": "w",
        "why": "y",
        "action": "a",
        "since": 1.0,
        "updated_at": 2.0,
        "node_id": node_id,
        "node_name": node_id,
        "subject": None,
        "value": 95.0,
        "dismissed": False,
    }
    return Insight(**{**base, **changes})


def with_evaluator(service: PulseService, cluster: FakeCluster, state: str = "online") -> None:
    cluster.members_now = [me(service), member(EVALUATOR, "boss", state=state)]


async def test_a_member_takes_tables_only_from_the_evaluator(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, cluster = pulse
    with_evaluator(service, cluster)
    await hold(service, clock, 20)
    assert service.insights(True).evaluator == EVALUATOR
    assert service.receive(table(5, card()), EVALUATOR)
    assert [c.id for c in service.insights(False).insights] == [card().id]
    assert events(service) == [("raised", card().id, "warning")]
    before = service.insights(True)
    refusals = {
        "a larger id": (table(9), LARGER),
        "a card about another rule": (table(9, card(id=f"cpu_saturated:{EVALUATOR}")), EVALUATOR),
        "a card about another node": (table(9, card(node_id=LARGER, id=card().id)), EVALUATOR),
    }
    for name, (pushed, sender) in refusals.items():
        with pytest.raises(Conflict):
            service.receive(pushed, sender)
        assert service.insights(True) == before, name
    assert not service.receive(table(4), EVALUATOR)  # older than the one held
    assert not service.receive(table(5), EVALUATOR)
    assert service.insights(True) == before
    assert events(service) == [("raised", card().id, "warning")]
    # Its severity rises: raised again; it goes: cleared, once each.
    assert service.receive(table(6, card(severity="critical")), EVALUATOR)
    assert service.receive(table(7), EVALUATOR)
    assert events(service)[1:] == [
        ("raised", card().id, "critical"),
        ("cleared", card().id, "critical"),
    ]


async def test_a_smaller_id_is_heard_while_views_disagree(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, _clock, cluster = pulse
    with_evaluator(service, cluster)
    cluster.members_now.append(member(SMALLER, state="suspect"))
    assert service.receive(table(1, card(SMALLER)), SMALLER)
    assert service.insights(True).evaluator == SMALLER
    assert [c.node_id for c in service.insights(False).insights] == [SMALLER]


async def test_the_next_evaluator_keeps_the_dismissals_and_shows_one_table(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, cluster = pulse
    key = card_id(service)
    cluster.members_now = [me(service, 92), member(EVALUATOR, "boss")]
    await hold(service, clock, 200)
    assert service.insights(True).insights == []  # not the evaluator: serves nothing own
    mine = service.evaluator.cards()[0]
    pushed = mine.model_copy(update={"dismissed": True})
    assert service.receive(table(3, pushed), EVALUATOR)
    assert events(service) == [("raised", key, "warning")]
    # The evaluator goes offline: this node takes over with the same card, still dismissed.
    cluster.members_now = [me(service, 92), member(EVALUATOR, "boss", state="offline")]
    await hold(service, clock, 10)
    listing = service.insights(True)
    assert listing.evaluator == service.node_id
    assert [(c.id, c.dismissed) for c in listing.insights] == [(key, True)]
    assert service.table.origin == service.node_id
    assert events(service) == [("raised", key, "warning")]
    await hold(service, clock, 60)
    offline = f"node_offline:{EVALUATOR}"
    assert {c.id for c in service.insights(False).insights} == {offline}
    assert events(service)[-1] == ("raised", offline, "warning")


async def test_dismissing_on_a_member_asks_the_evaluator(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, _clock, cluster = pulse
    with_evaluator(service, cluster)
    assert service.receive(table(1, card()), EVALUATOR)
    before = service.insights(True)
    with pytest.raises(ServiceUnavailable) as caught:
        await service.dismiss(card().id)  # it has no address
    assert caught.value.code == "PULSE_EVALUATOR_UNAVAILABLE"
    with socket.socket() as closed:  # bound, not listening: refuses connections
        closed.bind(("127.0.0.1", 0))
        reach = ("127.0.0.1", closed.getsockname()[1])
        cert = (service.ctx.settings.home / "identity" / "tls.crt").read_text()
        cluster.members_now = [me(service), member(EVALUATOR, reach=reach, cert=cert)]
        with pytest.raises(ServiceUnavailable, match="unreachable"):
            await service.dismiss(card().id)
    assert service.insights(True) == before
    with pytest.raises(Conflict):
        await service.dismiss_here(card().id)


async def test_the_served_table_is_bounded(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, cluster = pulse
    disks = {f"/mnt/{i}": 99.0 for i in range(32)}
    cluster.members_now = [me(service)] + [
        member(f"{LARGER}{i:03}", sample=telemetry(disks=disks)) for i in range(40)
    ]
    await hold(service, clock, 200)
    assert len(service.evaluator.cards()) > 1000
    served = service.insights(True).insights
    assert len(served) == 500
    assert all(c.severity == "critical" for c in served)
    pushed = PeerInsightTable(revision=1, insights=served)
    assert len(pushed.model_dump_json()) < 512 * 1024


async def test_history_filters_and_limits(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, cluster = pulse
    cluster.members_now = [me(service, 92), member(LARGER, "other")]
    await hold(service, clock, 200)
    everything = await service.history(None, None, 1000)
    assert everything.evaluations[0].at >= everything.evaluations[-1].at
    assert {e.node_id for e in everything.evaluations} >= {service.node_id, LARGER}
    only = await service.history(MEMORY, LARGER, 1000)
    assert only.evaluations
    assert all(e.rule == MEMORY and e.node_id == LARGER for e in only.evaluations)
    assert only.changes == []
    mine = await service.history(MEMORY, service.node_id, 3)
    assert len(mine.evaluations) == 3
    assert [c.to_status for c in mine.changes] == ["warning"]
    assert mine.count == 4


async def test_a_member_not_heard_from_yet_is_not_judged_offline_at_once(
    pulse: tuple[PulseService, FakeClock, FakeCluster],
) -> None:
    service, clock, cluster = pulse
    silent, gone = f"{LARGER}1", f"{LARGER}2"
    cluster.members_now = [
        me(service),
        member(silent, state="offline"),  # never heard since this node started
        member(gone, state="offline", last_seen=clock.now - 5),  # heard, then silent
    ]
    await hold(service, clock, 70)
    assert [c.node_id for c in service.insights(False).insights] == [gone]
    # Silent for offline_after (6 s) since it was first known: then judged like any other.
    await hold(service, clock, 10)
    assert {c.node_id for c in service.insights(False).insights} == {gone, silent}
