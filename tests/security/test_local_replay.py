"""Finding 8: clients that ask for a full replay and never read must not stall the agent.

A real agent on port 0 in this event loop, its ring full of telemetry-sized events; 100 raw
sockets send `GET /api/events` with `Last-Event-ID: 0` and never read a byte. Meanwhile an
in-loop monitor measures how late the loop wakes up, and `/api/health` is probed: both must
stay within a generous liveness bound (a blocked loop misses peer heartbeats for seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from agent.core.bus import GAP_TOPIC, REPLAYED_TOPIC, EventBus, next_event
from tests.harness import LiveAgent, live_agent, make_settings
from tests.topics import publish

CLIENTS = 100
# What matters is staying under `offline_after` (6 s), after which peers call this node
# offline; before the fix the loop stalled for ~10 s. Kept well above scheduling noise, since
# the suite runs several workers per core.
LIVENESS_S = 4.0
# About the size of a node.telemetry sample on a many-core machine.
PAYLOAD = {"cpu": {"per_core": [12.5] * 64}, "note": "x" * 1500}


async def _silent_reader(agent: LiveAgent) -> asyncio.StreamWriter:
    port = agent.settings.port
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        "GET /api/events HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {agent.token}\r\n"
        "Accept: text/event-stream\r\n"
        "Last-Event-ID: 0\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    return writer


async def _lag_monitor(worst: list[float], stop: asyncio.Event) -> None:
    tick = 0.01
    while not stop.is_set():
        begin = time.perf_counter()
        await asyncio.sleep(tick)
        worst[0] = max(worst[0], time.perf_counter() - begin - tick)


@pytest.mark.timeout(120)
async def test_non_reading_replay_clients_do_not_stall_the_loop(tmp_path: Path) -> None:
    async with live_agent(make_settings(tmp_path / "home")) as agent:
        bus: EventBus = agent.server.config.app.state.bus
        for i in range(agent.settings.event_ring_size):
            publish(bus, "load.test", {"i": i, **PAYLOAD})
        worst, stop = [0.0], asyncio.Event()
        monitor = asyncio.create_task(_lag_monitor(worst, stop))
        writers: list[asyncio.StreamWriter] = []
        try:
            async with agent.client(timeout=30) as client:
                # All at once, as an attack would: each replay then competes for the loop.
                writers = list(
                    await asyncio.gather(*[_silent_reader(agent) for _ in range(CLIENTS)])
                )
                probes = 0
                deadline = time.monotonic() + 60
                while probes < 10 or bus.subscriber_count < CLIENTS:
                    assert time.monotonic() < deadline, "the clients never all subscribed"
                    begin = time.perf_counter()
                    response = await client.get("/api/health")
                    took = time.perf_counter() - begin
                    assert response.status_code == 200
                    assert took < LIVENESS_S, f"/api/health took {took:.2f}s under replay load"
                    publish(bus, "load.test", {"i": -1, **PAYLOAD})
                    probes += 1
        finally:
            stop.set()
            await monitor
            for writer in writers:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        assert worst[0] < LIVENESS_S, f"the event loop stalled for {worst[0]:.2f}s"


async def test_replay_is_bounded_by_the_queue_and_reports_what_was_skipped() -> None:
    bus = EventBus(ring_size=1000, queue_size=10)
    events = [publish(bus, "t", {"i": i}) for i in range(100)]
    sub = bus.subscribe(["t"], last_event_id=0)
    gap = await next_event(sub, 1)
    assert gap is not None
    assert gap.topic == GAP_TOPIC
    assert gap.data["resumed_at"] == events[90].seq
    replayed = [await next_event(sub, 1) for _ in range(10)]
    assert [e.data["i"] for e in replayed if e] == list(range(90, 100))
    marker = await next_event(sub, 1)
    assert marker is not None
    assert marker.topic == REPLAYED_TOPIC
    assert gap.data["skipped"] == 90
    assert sub.dropped == 0


async def test_each_event_is_encoded_once_for_every_subscriber() -> None:
    bus = EventBus()
    subs = [bus.subscribe(["t"]) for _ in range(3)]
    event = publish(bus, "t", {"n": 1})
    assert event.frame.startswith(b"event: t\n")
    assert f"id: {event.seq}\n".encode() in event.frame
    frames = [(await next_event(s, 1)).frame for s in subs]  # type: ignore[union-attr]
    assert all(frame is event.frame for frame in frames)
