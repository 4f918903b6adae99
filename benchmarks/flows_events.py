"""Event trigger -> first step started, for `flows.py`: one agent, one flow, one SSE stream.

The flow (mode parallel) fires on `storage.uploaded` and its first step is `wait 1ms`, which the
engine runs itself (no action, no subprocess). Each sample uploads a 5-byte file, then waits
until the stream has delivered the upload's `storage.uploaded` event and the run's first
`flow.step.changed` `running` event and the run's end, then reads the run's detail. Samples
go one at a time, at most one per `PACE_S` (event triggers fire at most 10 times a second).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from common import BenchError, Server

FLOW_NAME = "bench-on-upload"
FLOW = f"""
name: {FLOW_NAME}
mode: parallel
max: 10
triggers:
  - event: storage.uploaded
steps:
  - id: first
    uses: wait
    with: {{duration: 1ms}}
"""
TOPICS = ("storage.uploaded", "flow.step.changed", "flow.run.changed")
PACE_S = 0.12
WARMUP = 5
WAIT_S = 30.0
FINISHED = {"succeeded", "failed", "cancelled", "skipped"}


@dataclass
class Sample:
    """Client times (`*_seen`) are time.time() as each frame was read; the rest are the
    agent's own stamps (the same wall clock: one machine)."""

    path: str
    stored: float  # the upload's `modified`: the version saved, just before the publish
    event_seen: float  # storage.uploaded delivered by the stream
    step_seen: float  # flow.step.changed running delivered by the stream
    trigger_at: float = 0.0  # the firing, in the agent (run.trigger.at)
    created_at: float = 0.0
    run_started_at: float = 0.0
    step_started_at: float = 0.0


@dataclass
class Stream:
    """The agent's event stream: each frame's data with the time it was read."""

    client: httpx.AsyncClient
    frames: asyncio.Queue[tuple[float, str, dict[str, Any]]] = field(default_factory=asyncio.Queue)

    async def read(self, opened: asyncio.Event) -> None:
        params = {"topics": ",".join(TOPICS)}
        async with self.client.stream("GET", "/api/events", params=params, timeout=None) as r:
            r.raise_for_status()
            opened.set()
            topic = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    topic = line[6:].strip()
                elif line.startswith("data:"):
                    await self.frames.put((time.time(), topic, json.loads(line[5:])))

    async def until(self, topic: str, match: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        while True:
            seen, got, data = await asyncio.wait_for(self.frames.get(), WAIT_S)
            if got == topic and all(data.get(k) == v for k, v in match.items()):
                return seen, data


async def _one(client: httpx.AsyncClient, stream: Stream, n: int) -> Sample:
    path = f"bench/trigger-{n}.txt"
    response = await client.post("/api/storage/upload", params={"path": path}, content=b"hello")
    if response.status_code != 201:
        raise BenchError(f"upload: {response.status_code} {response.text[:300]}")
    stored = float(response.json()["modified"])
    event_seen, _ = await stream.until("storage.uploaded", {"path": path})
    step_seen, step = await stream.until("flow.step.changed", {"state": "running"})
    run_id = step["run_id"]
    await stream.until("flow.run.changed", {"run_id": run_id, "state": "succeeded"})
    detail = (await client.get(f"/api/flows/{step['flow_id']}/runs/{run_id}")).json()
    if detail["trigger"]["payload"].get("data", {}).get("path") != path:
        raise BenchError(f"run {run_id} was not triggered by {path}: {detail['trigger']}")
    return Sample(
        path,
        stored,
        event_seen,
        step_seen,
        detail["trigger"]["at"],
        detail["created_at"],
        detail["started_at"],
        detail["steps"][0]["started_at"],
    )


async def measure(agent: Server, count: int) -> list[Sample]:
    auth = {"Authorization": f"Bearer {agent.token}"}
    async with httpx.AsyncClient(base_url=agent.url, headers=auth, timeout=30) as client:
        created = await client.post(
            "/api/flows", content=FLOW, headers={"Content-Type": "application/yaml"}
        )
        if created.status_code != 201:
            raise BenchError(f"POST /api/flows: {created.status_code} {created.text[:500]}")
        stream = Stream(client)
        opened = asyncio.Event()
        reader = asyncio.create_task(stream.read(opened))
        try:
            await asyncio.wait_for(opened.wait(), 10)
            samples = []
            for n in range(WARMUP + count):
                began = time.monotonic()
                samples.append(await _one(client, stream, n))
                await asyncio.sleep(max(0.0, began + PACE_S - time.monotonic()))
                if n >= WARMUP and (n + 1 - WARMUP) % 50 == 0:
                    print(f"  {n + 1 - WARMUP} / {count} events", flush=True)
        except TimeoutError:
            raise BenchError(f"no answer on the event stream within {WAIT_S:g} s") from None
        finally:
            reader.cancel()
        await client.delete(f"/api/flows/{FLOW_NAME}")  # the cron figures hold cron flows only
    return samples[WARMUP:]
