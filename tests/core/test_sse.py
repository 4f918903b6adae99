"""The event stream against a real uvicorn on a free port."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from agent.core.bus import GAP_TOPIC
from agent.core.stream_events import STREAM_GAP, STREAM_REPLAYED, StreamGap, StreamReplayed
from tests.harness import LiveAgent, live_agent, make_settings
from tests.topics import publish


async def read_events(
    response: httpx.Response, count: int, *, comments: list[str] | None = None
) -> list[dict]:
    events: list[dict] = []
    current: dict = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            if comments is not None:
                comments.append(line)
                if count == 0:
                    return events
            continue
        if not line:
            if current:
                events.append(current)
                current = {}
                if len(events) >= count:
                    return events
            continue
        field, _, value = line.partition(": ")
        current[field] = json.loads(value) if field == "data" else value
    return events


async def test_events_are_streamed_with_ids_and_topics(live: LiveAgent) -> None:
    bus = live.server.config.app.state.bus
    async with (
        live.client() as client,
        client.stream("GET", "/api/events", params={"topics": "demo"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await _wait_subscribed(bus, 1)
        publish(bus, "other.topic", {"skip": True})
        publish(bus, "demo.one", {"n": 1})
        publish(bus, "demo.two", {"n": 2})
        events = await asyncio.wait_for(read_events(response, 2), 5)
    assert [e["event"] for e in events] == ["demo.one", "demo.two"]
    assert [e["data"]["n"] for e in events] == [1, 2]
    assert int(events[1]["id"]) == int(events[0]["id"]) + 1


async def test_last_event_id_replays_what_was_missed(live: LiveAgent) -> None:
    bus = live.server.config.app.state.bus
    sent = [publish(bus, "replay", {"i": i}) for i in range(5)]
    headers = {"Last-Event-ID": str(sent[1].seq)}
    async with (
        live.client() as client,
        client.stream(
            "GET", "/api/events", params={"topics": "replay"}, headers=headers
        ) as response,
    ):
        events = await asyncio.wait_for(read_events(response, 3), 5)
    assert [e["data"]["i"] for e in events] == [2, 3, 4]


async def test_resuming_from_an_old_run_reports_a_gap(live: LiveAgent) -> None:
    async with (
        live.client() as client,
        client.stream(
            "GET", "/api/events", params={"topics": "nothing", "last_event_id": "5"}
        ) as response,
    ):
        events = await asyncio.wait_for(read_events(response, 2), 5)
    gap, replayed = events
    assert gap["event"] == GAP_TOPIC == STREAM_GAP.name
    assert replayed["event"] == STREAM_REPLAYED.name
    # Each marker carries exactly its payload model.
    assert StreamGap.model_validate(gap["data"]).model_dump(mode="json") == gap["data"]
    assert gap["data"]["after"] == 5
    marker = StreamReplayed.model_validate(replayed["data"])
    assert marker.model_dump(mode="json") == replayed["data"]
    assert marker.last_event_id >= gap["data"]["resumed_at"] - 1


async def test_bad_last_event_id_is_400(live: LiveAgent) -> None:
    async with live.client() as client:
        response = await client.get("/api/events", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


async def test_keepalive_comments(tmp_path: Path) -> None:
    async with live_agent(make_settings(tmp_path, sse_keepalive=0.1)) as agent:
        comments: list[str] = []
        async with (
            agent.client() as client,
            client.stream("GET", "/api/events", params={"topics": "quiet"}) as response,
        ):
            await asyncio.wait_for(read_events(response, 0, comments=comments), 5)
        assert comments
        assert comments[0].startswith(":")


async def test_telemetry_reaches_subscribers(live: LiveAgent) -> None:
    async with (
        live.client() as client,
        client.stream("GET", "/api/events", params={"topics": "node.telemetry"}) as response,
    ):
        events = await asyncio.wait_for(read_events(response, 2), 10)
    assert all(e["event"] == "node.telemetry" for e in events)
    assert "cpu" in events[0]["data"]


async def test_disconnected_clients_are_unsubscribed(live: LiveAgent) -> None:
    bus = live.server.config.app.state.bus
    before = bus.subscriber_count
    async with live.client() as client, client.stream("GET", "/api/events") as response:
        assert response.status_code == 200
        await _wait_subscribed(bus, before + 1)
    deadline = asyncio.get_running_loop().time() + 5
    while bus.subscriber_count > before:
        publish(bus, "poke", {})
        assert asyncio.get_running_loop().time() < deadline, "subscriber was never removed"
        await asyncio.sleep(0.02)


async def _wait_subscribed(bus, count: int) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while bus.subscriber_count < count:
        assert asyncio.get_running_loop().time() < deadline, "client never subscribed"
        await asyncio.sleep(0.01)
