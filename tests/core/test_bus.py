from __future__ import annotations

import asyncio

from agent.core.bus import GAP_TOPIC, REPLAYED_TOPIC, EventBus, next_event, topic_matches
from agent.core.events import Topic
from tests.topics import Loose, publish


def test_topic_matching() -> None:
    assert topic_matches(frozenset(), "anything")
    assert topic_matches(frozenset({"*"}), "node.telemetry")
    assert topic_matches(frozenset({"node"}), "node.telemetry")
    assert topic_matches(frozenset({"node.telemetry"}), "node.telemetry")
    assert not topic_matches(frozenset({"node"}), "nodes.x")
    assert not topic_matches(frozenset({"task"}), "node.telemetry")


async def test_subscribers_receive_matching_events_in_order() -> None:
    bus = EventBus()
    nodes = bus.subscribe(["node"])
    everything = bus.subscribe()
    first = publish(bus, "node.online", {"n": 1})
    publish(bus, "task.done", {"n": 2})
    publish(bus, "node.offline", {"n": 3})
    got = [await next_event(nodes, 1), await next_event(nodes, 1)]
    assert [e.data["n"] for e in got if e] == [1, 3]
    assert [(await next_event(everything, 1)).data["n"] for _ in range(3)] == [1, 2, 3]
    assert first.seq + 2 == bus.last_seq


async def test_sequence_numbers_rise_across_bus_instances() -> None:
    old = EventBus()
    last_of_old_run = publish(old, "x", {}).seq
    assert publish(EventBus(), "x", {}).seq > last_of_old_run


async def test_replay_after_last_event_id() -> None:
    bus = EventBus(ring_size=1000)
    events = [publish(bus, "t", {"i": i}) for i in range(10)]
    sub = bus.subscribe(["t"], last_event_id=events[6].seq)
    assert [(await next_event(sub, 1)).data["i"] for _ in range(3)] == [7, 8, 9]
    assert (await next_event(sub, 1)).topic == REPLAYED_TOPIC
    publish(bus, "t", {"i": 10})
    assert (await next_event(sub, 1)).data["i"] == 10


async def test_replay_from_before_the_ring_reports_the_gap() -> None:
    bus = EventBus(ring_size=1000)
    events = [publish(bus, "t", {"i": i}) for i in range(1500)]
    sub = bus.subscribe(["t"], last_event_id=events[100].seq)
    gap = await next_event(sub, 1)
    assert gap is not None
    assert gap.topic == GAP_TOPIC
    assert gap.data["missed"] == 399
    first = await next_event(sub, 1)
    assert first is not None
    assert first.data["i"] == 500


async def test_slow_subscriber_loses_oldest_and_never_blocks_others() -> None:
    bus = EventBus(queue_size=10)
    slow = bus.subscribe()
    fast = bus.subscribe()
    received: list[int] = []
    for i in range(100):
        publish(bus, "t", {"i": i})
        event = await next_event(fast, 1)
        assert event is not None
        received.append(event.data["i"])
    assert received == list(range(100))
    assert slow.dropped == 90
    assert bus.dropped_total == 90
    assert (await next_event(slow, 1)).data["i"] == 90


async def test_close_ends_subscriptions() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    bus.close()
    assert await asyncio.wait_for(waiter, 1) is None
    assert bus.subscribe().closed
    assert bus.subscriber_count == 0


async def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    bus.unsubscribe(sub)
    publish(bus, "t", {})
    assert await sub.get() is None


async def test_resuming_ends_replay_with_a_marker() -> None:
    bus = EventBus()
    first = publish(bus, "t", {"i": 0})
    publish(bus, "t", {"i": 1})
    sub = bus.subscribe(["t"], last_event_id=first.seq)
    assert (await next_event(sub, 1)).data["i"] == 1
    marker = await next_event(sub, 1)
    assert marker.topic == REPLAYED_TOPIC
    assert marker.data["last_event_id"] == bus.last_seq
    live = publish(bus, "t", {"i": 2})
    assert (await next_event(sub, 1)).seq == live.seq


async def test_no_marker_without_resumption() -> None:
    bus = EventBus()
    sub = bus.subscribe(["t"])
    publish(bus, "t", {"i": 0})
    assert (await next_event(sub, 1)).topic == "t"


async def test_live_only_topics_reach_subscribers_but_are_never_replayed() -> None:
    sample = Topic("test.sample", Loose, "a sample the next one supersedes", replay=False)
    bus = EventBus(ring_size=4)
    live = bus.subscribe(["test"])
    kept = publish(bus, "test.change", {"n": 1})
    for i in range(10):  # more samples than the ring holds: the change stays replayable
        bus.publish(sample, Loose(i=i))
    got = [await next_event(live, 1) for _ in range(11)]
    assert [e.topic if e else None for e in got] == ["test.change"] + ["test.sample"] * 10
    resumed = bus.subscribe(["test"], last_event_id=kept.seq - 1)
    replayed = [await next_event(resumed, 1) for _ in range(2)]
    assert [(e.topic, e.seq) if e else None for e in replayed] == [
        ("test.change", kept.seq),
        (REPLAYED_TOPIC, bus.last_seq),
    ]
