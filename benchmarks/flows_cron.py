"""Many cron flows, for `flows.py`: creating them, holding them armed, firing them on time.

Every flow is a daily cron (`M H * * *`, UTC) whose one step is `wait 1ms`. Most are spread
evenly over the day's minutes, leaving out the `RESERVED_MIN` minutes from now on, so none
fires while the idle CPU is measured. The rest (`firing`) are created last, once the creation
time is known: `per_minute` flows at each of `minutes` whole minutes from the first that
starts at least MARGIN_S later, so each of those minutes fires a burst of them at once.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from common import BenchError, Server

INFLIGHT = 8
RESERVED_MIN = 40
MARGIN_S = 15.0
RUN_WAIT_S = 60.0


def flow_text(name: str, minute_of_day: int) -> str:
    hour, minute = divmod(minute_of_day % 1440, 60)
    return (
        f"name: {name}\nmode: single\ntriggers:\n  - cron: '{minute} {hour} * * *'\n"
        "steps:\n  - id: first\n    uses: wait\n    with: {duration: 1ms}\n"
    )


def minute_of_day(at: float) -> int:
    moment = datetime.fromtimestamp(at, UTC)
    return moment.hour * 60 + moment.minute


def spread_minutes(count: int, now: float) -> list[int]:
    """`count` minutes of the day, evenly spaced, none in the RESERVED_MIN from `now` on."""
    first = minute_of_day(now) + RESERVED_MIN
    free = [(first + k) % 1440 for k in range(1440 - RESERVED_MIN)]
    step = len(free) / count
    return [free[math.floor(k * step)] for k in range(count)]


@dataclass
class Created:
    count: int
    wall_s: float

    @property
    def per_s(self) -> float:
        return self.count / self.wall_s if self.wall_s else math.nan


async def create(client: httpx.AsyncClient, texts: dict[str, str]) -> Created:
    gate = asyncio.Semaphore(INFLIGHT)

    async def one(text: str) -> None:
        async with gate:
            r = await client.post(
                "/api/flows", content=text, headers={"Content-Type": "application/yaml"}
            )
        if r.status_code != 201:
            raise BenchError(f"POST /api/flows: {r.status_code} {r.text[:500]}")

    began = time.perf_counter()
    await asyncio.gather(*(one(t) for t in texts.values()))
    return Created(len(texts), time.perf_counter() - began)


@dataclass
class Plan:
    """The firing flows: name -> the whole-minute Unix time it fires at."""

    due: dict[str, float]

    @property
    def last(self) -> float:
        return max(self.due.values())


def plan_firing(minutes: int, per_minute: int, not_before: float) -> Plan:
    first = math.ceil(not_before / 60) * 60
    due = {
        f"bench-fire-{m}-{k:02d}": float(first + 60 * m)
        for m in range(minutes)
        for k in range(per_minute)
    }
    return Plan(due)


def firing_texts(plan: Plan) -> dict[str, str]:
    return {name: flow_text(name, minute_of_day(at)) for name, at in plan.due.items()}


async def wait_runs(client: httpx.AsyncClient, plan: Plan) -> None:
    """Until every firing flow's run has finished, read off the event stream."""
    waiting = set(plan.due)
    params = {"topics": "flow.run.changed"}
    deadline = plan.last + RUN_WAIT_S - time.time()
    try:
        async with asyncio.timeout(max(1.0, deadline)):
            async with client.stream("GET", "/api/events", params=params, timeout=None) as r:
                r.raise_for_status()
                async for line in r.aiter_lines():
                    data = json.loads(line[5:]) if line.startswith("data:") else {}
                    if data.get("state") in ("succeeded", "failed", "cancelled", "skipped"):
                        waiting.discard(data.get("flow_id", ""))
                        if not waiting:
                            return
    except TimeoutError:
        raise BenchError(f"{len(waiting)} firing flows never finished a run") from None


async def delays(client: httpx.AsyncClient, plan: Plan) -> list[dict[str, Any]]:
    """Per firing flow: its scheduled time -> run started, and -> first step started."""
    out = []
    for name, due in plan.due.items():
        runs = (await client.get(f"/api/flows/{name}/runs")).json()["runs"]
        if len(runs) != 1:
            raise BenchError(f"{name} has {len(runs)} runs, expected one")
        detail = (await client.get(f"/api/flows/{name}/runs/{runs[0]['id']}")).json()
        scheduled = datetime.fromisoformat(detail["trigger"]["payload"]["scheduled_at"])
        if scheduled.timestamp() != due:
            raise BenchError(f"{name} fired for {scheduled}, expected {due}")
        out.append(
            {
                "flow": name,
                "scheduled_at": due,
                "run_started_s": detail["started_at"] - due,
                "step_started_s": detail["steps"][0]["started_at"] - due,
                "trigger_at_s": detail["trigger"]["at"] - due,
            }
        )
    return out


def client_for(agent: Server) -> httpx.AsyncClient:
    auth = {"Authorization": f"Bearer {agent.token}"}
    limits = httpx.Limits(max_connections=INFLIGHT + 2, max_keepalive_connections=INFLIGHT + 2)
    return httpx.AsyncClient(base_url=agent.url, headers=auth, limits=limits, timeout=60)
