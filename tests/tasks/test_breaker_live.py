"""The scheduler's circuit breaker against a real member made to fail.

An in-process agent joins a real agent (a subprocess). The test then points its record of
that member at a closed port, as if the member's address had gone dead while its heartbeats
still arrived: every dispatch is refused by the kernel. The breaker opens after five such
failures, lets one probe through after its open period, re-opens when the probe fails, and
closes once the member is reachable again.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from agent.tasks.breaker import BreakerBoard, BreakerPolicy
from tests.harness import AgentProcess, agent_process, live_agent, make_settings
from tests.tasks.conftest import submit, wait_task


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def member(tmp_path: Path) -> Iterator[AgentProcess]:
    with agent_process(tmp_path / "member") as agent:
        yield agent


@pytest.mark.slow
async def test_breaker_opens_probes_and_closes(tmp_path: Path, member: AgentProcess) -> None:
    # Long liveness windows: the member's heartbeats cannot reach the in-process agent (it
    # has no peer listener), so only our own successful heartbeats keep it online.
    settings = make_settings(tmp_path / "home", suspect_after=600, offline_after=1200)
    async with live_agent(settings) as agent, agent.client() as client:
        tasks = agent.server.config.app.state.subsystems["tasks"]
        cluster = agent.server.config.app.state.subsystems["cluster"]
        clock = FakeClock()
        tasks.scheduler.breakers = BreakerBoard(policy=BreakerPolicy(), clock=clock)
        async with httpx.AsyncClient(headers=member.headers()) as other:
            token = (await other.get(member.url + "/api/cluster/join-token")).json()["token"]
        joined = await client.post("/api/cluster/join-remote", json={"token": token})
        assert joined.status_code == 200, joined.text
        node = member.info["node_id"]

        def reachable(port: int) -> None:
            record = cluster.membership.members[node]
            cluster.membership.members[node] = replace(record, peer_port=port)
            cluster.membership.live[node].observed = ()

        real_port = cluster.membership.members[node].peer_port
        await _until_capabilities(cluster, node)
        reachable(closed_port())
        task = await submit(client, command="echo hello", preferred_node=node)

        async def breaker() -> dict:
            stats = (await client.get("/api/scheduler/stats")).json()
            return next(n["breaker"] for n in stats["nodes"] if n["node_id"] == node)

        await _until(lambda b: b["state"] == "open", breaker)
        assert (await breaker())["consecutive_failures"] >= 5
        assert (await client.get(f"/api/tasks/{task['task_id']}")).json()["state"] == "queued"

        clock.now += 31  # past the first open period: one probe, which fails again
        await _until(lambda b: b["state"] == "open" and b["open_for_s"] == 60, breaker)

        reachable(real_port)
        clock.now += 61
        done = await wait_task(client, task["task_id"])
        assert done["state"] == "succeeded"
        assert done["node_id"] == node
        assert (await breaker())["state"] == "closed"


async def _until(check, read, within: float = 20):
    deadline = time.monotonic() + within
    while True:
        value = await read()
        if check(value):
            return value
        assert time.monotonic() < deadline, f"condition not met: {value}"
        await asyncio.sleep(0.02)


async def _until_capabilities(cluster, node: str) -> None:
    async def remote_exec() -> bool | None:
        live = cluster.membership.live.get(node)
        return live.capabilities.remote_exec if live else None

    await _until(lambda value: value is True, remote_exec)
