"""Relaying events to a flow's owner: which topics are relayed, what a member that does not
own a flow watches for it, how the owner takes a relayed event (its checks, its rate bound
and filter), hostile bodies at the peer route, and a sender whose owner cannot be reached."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agent.core.bus import EventBus
from agent.core.errors import ApiError, Conflict
from agent.core.events import Topic
from agent.flows import relay
from agent.flows.clock import FakeClock
from agent.flows.peer_wire import FIRE, FIRE_BODY_LIMIT, FireBody
from agent.flows.triggers import Firing
from agent.flows.triggers.events import RATE
from agent.flows.triggers.model import relayed
from tests.flows.cluster_kit import Member, flows_member, link
from tests.flows.kit import FakeAction, engine, flow, step
from tests.flows.test_triggers_kit import START, Engine, armed, make_triggers, quiet, running
from tests.flows.test_triggers_kit import settle as settle_on


class Uploaded(BaseModel):
    path: str = "docs/a.md"
    size: int = 5


UPLOADED = Topic("storage.uploaded", Uploaded, "A file was stored.")
OFFLINE = Topic("node.offline", Uploaded, "A member went silent.")


@pytest.mark.parametrize(
    ("topic", "relays"),
    [
        ("storage.uploaded", True),
        ("storage.deleted", True),
        ("task.finished", True),
        ("llm.generated", True),
        ("brain.indexed", True),
        ("mcp.tool.called", True),
        ("flow.run.changed", True),
        ("flow.owner.changed", True),
        ("nodes.custom", True),  # not below `node`
        ("node.offline", False),
        ("node", False),
        ("cluster.joined", False),
        ("pulse.insight.raised", False),
        ("discovery.found", False),
        ("stream.chunk", False),
        ("flow.changed", False),  # every member announces what it merges
        ("memory.fact.added", False),
        ("storage.synced", False),
    ],
)
def test_which_topics_are_relayed(topic: str, relays: bool) -> None:
    assert relayed(topic) is relays


async def test_a_member_relays_only_event_triggers_on_relayed_topics() -> None:
    bus, clock, recorder = EventBus(), FakeClock(START), Engine()
    triggers = make_triggers(recorder, clock, bus)
    elsewhere = armed(
        "elsewhere",
        {"event": "storage.uploaded", "filter": "event.data.size > 1"},
        {"event": "node.offline"},
        {"interval": "1s"},
        {"file": {"storage": "docs/*.md"}},
    )
    triggers.arm([replace(elsewhere, relay=True), armed("here", {"event": "storage"})])
    assert triggers.next_at("elsewhere", 2) is None
    assert set(triggers.relays.watches) == {("elsewhere", 0)}
    async with running(triggers):
        big = bus.publish(UPLOADED, Uploaded(size=5))
        bus.publish(UPLOADED, Uploaded(size=0))
        bus.publish(OFFLINE, Uploaded())
        await settle_on(lambda: len(recorder.firings) == 3)
        await quiet()
    (relayed_firing,) = recorder.of("elsewhere")
    assert relayed_firing.relay
    assert relayed_firing.payload == {"topic": UPLOADED.name, "id": big.seq, "data": big.data}
    assert [f.relay for f in recorder.of("here")] == [False, False]


async def test_the_owner_fires_a_relayed_event_through_its_filter_and_rate_bound() -> None:
    clock, recorder = FakeClock(START), Engine()
    triggers = make_triggers(recorder, clock)
    triggers.arm([armed("mine", {"event": "storage", "filter": "event.data.size > 1"})])
    key = ("mine", 0)
    async with running(triggers):
        assert await triggers.take_relayed(key, UPLOADED.name, 7, {"size": 5}) is True
        assert await triggers.take_relayed(key, UPLOADED.name, 8, {"size": 0}) is False
        assert await triggers.take_relayed(("mine", 1), UPLOADED.name, 9, {"size": 5}) is None
        for seq in range(RATE):
            await triggers.take_relayed(key, UPLOADED.name, 10 + seq, {"size": 5})
        await settle_on(lambda: triggers.dispatcher.idle)
    assert len(recorder.firings) == RATE  # the first, and RATE - 1 more in the same second
    assert triggers.events.dropped(key) == 1
    first = recorder.firings[0]
    assert (first.kind, first.relay, first.slot) == ("event", False, "storage.uploaded#7")
    assert first.payload == {"topic": UPLOADED.name, "id": 7, "data": {"size": 5}}


WATCHER = flow(
    "Watcher",
    [step("work")],
    triggers=[{"event": "storage.uploaded"}, {"manual": {}}, {"event": "node.offline"}],
)


async def test_the_owner_checks_what_it_is_relayed(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with engine(tmp_path, clock, {"task.run": FakeAction()}) as e:
        await e.save(WATCHER)
        recorder = Engine()
        triggers = make_triggers(recorder, clock)
        triggers.arm(e.triggers.armed)

        async def take(**fields: Any) -> bool:
            values = {"flow_id": "watcher", "trigger_index": 0, "topic": UPLOADED.name,
                      "id": 1, "data": {}, **fields}  # fmt: skip
            return await relay.take(e.flows, triggers, FireBody.model_validate(values))

        async def refused(**fields: Any) -> tuple[int, str]:
            with pytest.raises(ApiError) as caught:
                await take(**fields)
            return caught.value.status, caught.value.code

        assert await take() is True
        assert await take(topic="storage.uploaded.more") is True
        assert await refused(flow_id="absent") == (404, "FLOW_NOT_FOUND")
        assert await refused(trigger_index=1) == (404, "FLOW_TRIGGER_NOT_FOUND")
        assert await refused(trigger_index=9) == (404, "FLOW_TRIGGER_NOT_FOUND")
        assert await refused(topic="storage.deleted") == (409, "FLOW_TRIGGER_MISMATCH")
        assert await refused(trigger_index=2, topic="node.offline") == (
            409,
            "FLOW_TRIGGER_MISMATCH",
        )
        e.cluster.owner = "someoneelse"
        assert await refused() == (409, "FLOW_NOT_OWNED")
        e.cluster.owner = None
        await e.flows.toggle("watcher", False)
        assert await refused() == (409, "FLOW_DISABLED")
        await e.flows.toggle("watcher", True)
        triggers.arm([])  # owned, enabled, but not armed (yet) here
        assert await refused() == (409, "FLOW_NOT_ARMED")
        assert len(recorder.firings) == 0  # nothing reached `fire` without the loop running
        assert triggers.dispatcher.submitted == 2


@asynccontextmanager
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Member, Member]]:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(flows_member(tmp_path / "a", "a"))
        b = await stack.enter_async_context(flows_member(tmp_path / "b", "b"))
        link(a, b)
        yield a, b


GOOD = {"flow_id": "watcher", "trigger_index": 0, "topic": "storage.uploaded", "id": 3,
        "data": {"path": "x"}}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "extra": 1},
        {**GOOD, "topic": "Not A Topic"},
        {**GOOD, "topic": "x" * 200},
        {**GOOD, "flow_id": "../../etc"},
        {**GOOD, "trigger_index": 20},
        {**GOOD, "trigger_index": -1},
        {**GOOD, "id": -5},
        {**GOOD, "id": 2**64},
        {**GOOD, "data": [1, 2]},
        {k: v for k, v in GOOD.items() if k != "data"},
        [GOOD],
    ],
)
async def test_hostile_fire_bodies_change_nothing(tmp_path: Path, body: Any) -> None:
    async with pair(tmp_path) as (a, b):
        async with b.peer_client(a.node_id) as client:
            response = await client.post(FIRE, json=body)
        assert response.status_code == 400, response.text
        assert b.service.fired == []


async def test_an_oversized_fire_body_is_refused(tmp_path: Path) -> None:
    async with pair(tmp_path) as (a, b):
        body = {**GOOD, "data": {"blob": "x" * FIRE_BODY_LIMIT}}
        async with b.peer_client(a.node_id) as client:
            response = await client.post(FIRE, json=body)
        assert response.status_code == 413, response.text
        assert b.service.fired == []


def dropped(member: Member, reason: str) -> float:
    return float(member.flows.relays.dropped.labels(reason)._value.get())


async def test_a_relay_reaches_the_owner_or_is_dropped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with pair(tmp_path) as (a, b):
        payload = {"topic": "storage.uploaded", "id": 3, "data": {"path": "x"}}
        firing = Firing("watcher", 0, "event", "storage.uploaded#3", START, payload, relay=True)
        assert await a.flows.relay(b.node_id, firing)
        assert b.service.fired == [FireBody.model_validate(GOOD)]
        a.peers.down.add(b.node_id)
        caplog.set_level("WARNING", "openfabric.flows")
        assert not await a.flows.relay(b.node_id, firing)
        assert not await a.flows.relay(b.node_id, firing)
        assert not await a.flows.relay("nosuchnode", firing)
        assert dropped(a, "unreachable") == 3
        assert sum(b.node_id in r.getMessage() for r in caplog.records) == 1
        a.peers.down.clear()

        async def refuse(body: FireBody) -> bool:
            raise Conflict("not mine", code="FLOW_NOT_OWNED")

        b.flows.take_fire = refuse
        assert not await a.flows.relay(b.node_id, firing)
        assert dropped(a, "refused") == 1
        assert len(b.service.fired) == 1
