"""Three hosts (network namespaces on one bridge) running real agents: they find each other
over mDNS and form a cluster with join tokens, over their LAN addresses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.discovery import netns
from tests.harness import REPO, agent_env, wait_until

pytestmark = pytest.mark.slow
DISCOVER_WITHIN = 5.0

# Runs inside a host's namespace, where the agent's local API is on its loopback.
CALL = """
import json, sys, httpx
method, url, token, body = sys.argv[1:5]
r = httpx.request(method, url, headers={"Authorization": "Bearer " + token},
                  json=json.loads(body) if body else None, timeout=20)
print(json.dumps({"status": r.status_code, "body": r.json()}))
"""


@dataclass
class NsAgent:
    host: netns.Host
    home: Path
    process: subprocess.Popen[bytes]

    def info(self) -> dict[str, Any] | None:
        path = self.home / "agent.json"
        return json.loads(path.read_text()) if path.exists() else None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        info = self.info()
        assert info is not None, "agent not ready"
        token = (self.home / "local.token").read_text().strip()
        result = self.host.exec(
            [
                sys.executable,
                "-c",
                CALL,
                method,
                info["url"] + path,
                token,
                json.dumps(body) if body is not None else "",
            ]
        )
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        return answer["status"], answer["body"]


@pytest.fixture
def lan() -> Iterator[list[netns.Host]]:
    reason = netns.unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    with netns.network(3) as hosts:
        yield hosts


def start(host: netns.Host, home: Path) -> NsAgent:
    home.mkdir(parents=True)
    log = (home.parent / f"{home.name}.log").open("wb")
    process = host.run(
        [
            sys.executable,
            "-m",
            "agent",
            "--port",
            "0",
            "--peer-port",
            "0",
            "--mdns",
            "on",
            "--telemetry-interval",
            "0.5",
        ],
        cwd=REPO,
        env=agent_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return NsAgent(host, home, process)


def test_agents_discover_each_other_and_join_over_the_lan(
    tmp_path: Path, lan: list[netns.Host]
) -> None:
    agents = [start(host, tmp_path / f"host{i}") for i, host in enumerate(lan)]
    wait_until(lambda: all(a.info() for a in agents), 30, "agents to start")
    started = time.monotonic()
    ids = {a.info()["node_id"] for a in agents}  # type: ignore[index]

    def discovered(agent: NsAgent) -> set[str]:
        status, body = agent.call("GET", "/api/cluster/discovered")
        assert status == 200
        assert body["mdns"] is True
        return {entry["node_id"] for entry in body["agents"]}

    for agent in agents:
        own = agent.info()["node_id"]  # type: ignore[index]
        wait_until(
            lambda a=agent, o=own: discovered(a) == ids - {o},
            20,
            f"{agent.host.name} to discover the others",
        )
    elapsed = time.monotonic() - started
    print(f"all three agents discovered each other {elapsed:.2f}s after start")
    assert elapsed < DISCOVER_WITHIN + 3  # budget plus the in-namespace polling overhead

    _, entry = agents[1].call("GET", "/api/cluster/discovered")
    seen = next(e for e in entry["agents"] if e["node_id"] == agents[0].info()["node_id"])
    assert seen["addresses"] == [lan[0].address]

    status, token = agents[0].call("GET", "/api/cluster/join-token")
    assert status == 200
    assert token["issuer"]["addresses"] == [lan[0].address]
    for joiner in agents[1:]:
        status, body = joiner.call(
            "POST",
            "/api/cluster/join-remote",
            {"token": agents[0].call("GET", "/api/cluster/join-token")[1]["token"]},
        )
        assert status == 200, body

    def online(agent: NsAgent) -> int:
        return int(agent.call("GET", "/api/status")[1]["online_count"])

    for agent in agents:
        wait_until(lambda a=agent: online(a) == 3, 20, f"{agent.host.name} to see 3 online")
    # Members are no longer offered as discovered agents.
    for agent in agents:
        wait_until(lambda a=agent: discovered(a) == set(), 10, "members to leave the list")

    # Host 2 moves to another address: every member learns it and keeps it online.
    moved = agents[2]
    moved_id = moved.info()["node_id"]  # type: ignore[index]
    new_address = lan[2].address.rsplit(".", 1)[0] + ".200"
    # Delete first: removing a primary address also removes secondaries in its subnet.
    for command in (
        ["ip", "addr", "del", f"{lan[2].address}/24", "dev", "eth0"],
        ["ip", "addr", "add", f"{new_address}/24", "dev", "eth0"],
    ):
        assert lan[2].exec(command).returncode == 0

    def addresses_seen_by(agent: NsAgent) -> list[str]:
        status, node = agent.call("GET", f"/api/nodes/{moved_id}")
        return node["addresses"] if status == 200 and node["state"] == "online" else []

    for agent in agents[:2]:
        wait_until(
            lambda a=agent: addresses_seen_by(a) == [new_address],
            30,
            f"{agent.host.name} to learn the new address",
        )
    wait_until(lambda: online(moved) == 3, 15, "the moved host to still see everyone")
