"""Real mDNS between three "hosts" (network namespaces on one bridge): each node finds the
other two, sees an advert change, and sees a stopped node leave."""

from __future__ import annotations

import json
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.discovery import netns
from tests.harness import REPO

FIND_WITHIN = 5.0
pytestmark = pytest.mark.slow


@dataclass
class Node:
    node_id: str
    host: netns.Host
    peer_port: int
    process: subprocess.Popen[str]
    lines: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    seen: list[dict[str, Any]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    def pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def wait_for(self, match: Callable[[dict[str, Any]], bool], within: float, what: str) -> Any:
        """The first event (already seen or arriving within `within` s) that matches."""
        for event in self.seen:
            if match(event):
                return event
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(event)
            if match(event):
                return event
        raise AssertionError(
            f"{self.node_id} in {self.host.name}: no {what} within {within}s; output:\n"
            + "".join(self.output)
        )

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()


def event_for(topic: str, node_id: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        agent = event.get("agent", {})
        return (
            event["event"] == topic
            and agent.get("node_id") == node_id
            and all(agent.get(k) == v for k, v in fields.items())
        )

    return match


@pytest.fixture(scope="module")
def hosts() -> Iterator[list[netns.Host]]:
    reason = netns.unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    with netns.network(3) as made:
        yield made


def start_node(host: netns.Host, index: int, home: Path) -> Node:
    node_id = f"n{index}{secrets.token_hex(4)}"
    peer_port = 47000 + index
    argv = [sys.executable, "-m", "tests.discovery.mdns_node", "--node-id", node_id]
    argv += ["--home", str(home), "--peer-port", str(peer_port), "--name", f"host{index}"]
    process = host.run(
        argv,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    node = Node(node_id, host, peer_port, process)
    threading.Thread(target=node.pump, daemon=True).start()
    return node


def test_nodes_discover_each_other(hosts: list[netns.Host], tmp_path: Path) -> None:
    nodes = [start_node(host, i, tmp_path / f"node{i}") for i, host in enumerate(hosts)]
    try:
        started = {
            n.node_id: n.wait_for(lambda e: e["event"] == "started", 30, "start")["t"]
            for n in nodes
        }
        for n in nodes:
            assert n.wait_for(lambda e: e["event"] == "ready", 10, "ready")["mdns"] is True

        latencies: list[float] = []
        for n in nodes:
            for other in nodes:
                if other is n:
                    continue
                found = n.wait_for(
                    event_for("discovery.found", other.node_id),
                    FIND_WITHIN,
                    f"discovery.found for {other.node_id}",
                )
                agent = found["agent"]
                assert agent["addresses"] == [other.host.address]
                assert agent["peer_port"] == other.peer_port
                assert agent["cluster_id"] is None
                assert agent["name"] == f"host{nodes.index(other)}"
                latencies.append(found["t"] - max(started[n.node_id], started[other.node_id]))
            assert not any(event_for("discovery.found", n.node_id)(e) for e in n.seen)
        print(
            f"\nmDNS discovery latency over 3 hosts: max {max(latencies):.3f}s, "
            f"min {min(latencies):.3f}s (budget 2 s)"
        )
        assert max(latencies) < FIND_WITHIN

        first, second, third = nodes
        first.send("cluster c1")
        first.wait_for(lambda e: e["event"] == "refreshed", 5, "refresh_advert to return")
        for n in (second, third):
            n.wait_for(
                event_for("discovery.updated", first.node_id, cluster_id="c1"),
                FIND_WITHIN,
                "the new cluster id",
            )

        third.process.terminate()
        stopped = third.wait_for(lambda e: e["event"] == "stopped", 5, "stop")
        assert stopped["stop_seconds"] < 1.0
        for n in (first, second):
            n.wait_for(event_for("discovery.lost", third.node_id), FIND_WITHIN, "lost")
    finally:
        for n in nodes:
            if n.process.poll() is None:
                n.process.terminate()
