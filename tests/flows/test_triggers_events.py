"""Event triggers on a real bus: topic prefixes, the filter over `event`, the payload bound,
one subscription that follows the armed topics, and the rate bound under a storm."""

from __future__ import annotations

from pydantic import BaseModel

from agent.core.bus import EventBus
from agent.core.events import Topic
from agent.flows.clock import FakeClock
from agent.flows.triggers.events import RATE
from agent.flows.triggers.model import MAX_PAYLOAD_BYTES
from tests.flows.test_triggers_kit import (
    START,
    Engine,
    armed,
    make_triggers,
    quiet,
    running,
    settle,
)


class Sample(BaseModel):
    rule: str = "disk_full"
    node: str = "n1"
    blob: str = ""


ALERT = Topic("probe.alert.raised", Sample, "A probe alert.")
CLEARED = Topic("probe.alert.cleared", Sample, "A probe alert went away.")
OTHER = Topic("probeside.noise", Sample, "Not below `probe`.")


async def test_an_event_fires_with_topic_id_and_data_and_prefixes_match_below() -> None:
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    triggers = make_triggers(engine, clock, bus)
    triggers.arm(
        [armed("exact", {"event": "probe.alert.raised"}), armed("all", {"event": "probe"})]
    )
    async with running(triggers):
        raised = bus.publish(ALERT, Sample())
        bus.publish(CLEARED, Sample(rule="gone"))
        bus.publish(OTHER, Sample())
        await settle(lambda: len(engine.firings) == 3)
        await quiet()
    assert len(engine.firings) == 3
    (exact,) = engine.of("exact")
    assert exact.kind == "event"
    assert exact.trigger_index == 0
    assert exact.at == START
    assert exact.slot == f"probe.alert.raised#{raised.seq}"
    assert exact.payload == {"topic": "probe.alert.raised", "id": raised.seq, "data": raised.data}
    assert [f.payload["topic"] for f in engine.of("all")] == [ALERT.name, CLEARED.name]
    assert bus.subscriber_count == 0  # the subscription ends with the triggers


async def test_the_filter_decides_over_event_and_a_failing_filter_does_not_hold() -> None:
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    triggers = make_triggers(engine, clock, bus)
    triggers.arm(
        [
            armed("full", {"event": "probe", "filter": 'event.data.rule == "disk_full"'}),
            armed("broken", {"event": "probe", "filter": "event.data.missing.deeper == 1"}),
            armed("topic", {"event": "probe", "filter": 'event.topic.endsWith(".cleared")'}),
        ]
    )
    async with running(triggers):
        bus.publish(ALERT, Sample(rule="disk_filling"))
        bus.publish(ALERT, Sample(rule="disk_full"))
        bus.publish(CLEARED, Sample(rule="disk_full"))
        await settle(lambda: len(engine.firings) == 3)
        await quiet()
    assert [f.payload["topic"] for f in engine.of("full")] == [ALERT.name, CLEARED.name]
    assert [f.payload["topic"] for f in engine.of("topic")] == [CLEARED.name]
    assert engine.of("broken") == []


async def test_large_event_data_is_cut_to_a_note() -> None:
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    triggers = make_triggers(engine, clock, bus)
    triggers.arm([armed("big", {"event": "probe"})])
    async with running(triggers):
        bus.publish(ALERT, Sample(blob="x" * (MAX_PAYLOAD_BYTES + 1)))
        await settle(lambda: len(engine.firings) == 1)
    data = engine.firings[0].payload["data"]
    assert data["truncated"] is True
    assert data["bytes"] > MAX_PAYLOAD_BYTES
    assert "blob" not in data


async def test_one_subscription_follows_the_armed_topics() -> None:
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    triggers = make_triggers(engine, clock, bus)
    async with running(triggers):
        assert bus.subscriber_count == 0  # nothing armed: nothing subscribed (not everything)
        triggers.arm([armed("a", {"event": "probe.alert"}), armed("b", {"event": "probe"})])
        assert bus.subscriber_count == 1
        bus.publish(ALERT, Sample())
        triggers.arm([armed("c", {"event": "probeside"})])  # events already queued still count
        assert bus.subscriber_count == 1
        bus.publish(OTHER, Sample())
        bus.publish(ALERT, Sample())
        await settle(lambda: len(engine.firings) == 1)
        await quiet()
        assert [f.flow_id for f in engine.firings] == ["c"]
        triggers.arm([])
        assert bus.subscriber_count == 0


async def test_a_storm_fires_at_most_the_rate_per_second_per_trigger() -> None:
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    triggers = make_triggers(engine, clock, bus)
    triggers.arm(
        [armed("loop", {"event": "probe"}), armed("calm", {"event": "probe.alert.cleared"})]
    )
    async with running(triggers):
        for _ in range(500):
            bus.publish(ALERT, Sample())
        bus.publish(CLEARED, Sample())
        await settle(lambda: len(engine.of("calm")) == 1)
        await quiet()
        assert len(engine.of("loop")) == RATE
        assert triggers.events.dropped(("loop", 0)) == 501 - RATE
        clock.advance(1.0)
        bus.publish(ALERT, Sample())
        await settle(lambda: len(engine.of("loop")) == RATE + 1)


async def test_a_trigger_whose_filter_does_not_compile_is_left_out_and_others_fire() -> None:
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    triggers = make_triggers(engine, clock, bus)
    triggers.arm(
        [armed("two", {"event": "probe", "filter": "event.data.rule =="}, {"event": "probe"})]
    )
    async with running(triggers):
        bus.publish(ALERT, Sample())
        await settle(lambda: len(engine.firings) == 1)
        await quiet()
    assert [(f.flow_id, f.trigger_index) for f in engine.firings] == [("two", 1)]
