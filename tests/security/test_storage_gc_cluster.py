"""Two real agents: collection during a slow re-upload keeps every copy on both nodes, and a
copy lost from a disk stops counting (and is replaced)."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.storage.blocks import CHUNK_SIZE
from tests.harness import AgentProcess, agent_processes, call, form_cluster, replay_events
from tests.harness import wait_until as wait

GRACE = 0.5


def block(seed: int) -> bytes:
    return hashlib.sha256(f"cluster-{seed}".encode()).digest() * (CHUNK_SIZE // 32)


def chunk_file(agent: AgentProcess, digest: str) -> Path:
    return agent.home / "storage" / "chunks" / digest[:2] / digest


def metric(agent: AgentProcess, family: str) -> float:
    for found in call(agent, "GET", "/api/metrics").json()["metrics"]:
        if found["name"] == f"openfabric_{family}":
            return float(sum(s["value"] for s in found["samples"]))
    raise AssertionError(f"no metric {family}")


def listing(agent: AgentProcess) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in call(agent, "GET", "/api/storage").json()["files"]}


def gc_runs_twice(agents: list[AgentProcess]) -> None:
    """Wait until every agent has finished two collections from now (so at least one began
    after this call)."""
    start = {a.home: metric(a, "storage_gc_runs") for a in agents}
    wait(
        lambda: all(metric(a, "storage_gc_runs") >= start[a.home] + 2 for a in agents),
        30,
        "two garbage collections on every node",
    )


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    homes = [tmp_path / "a", tmp_path / "b"]
    with agent_processes(homes, "--storage-gc-grace", str(GRACE)) as agents:
        form_cluster(agents)
        yield agents


def test_slow_reupload_keeps_both_copies_through_collection(pair: list[AgentProcess]) -> None:
    a, b = pair
    blocks = [block(i) for i in range(3)]
    digests = [hashlib.sha256(x).hexdigest() for x in blocks]
    url = f"{a.url}/api/storage/upload?path=slow.bin"

    def on_both(wanted: list[str]) -> bool:
        return all(chunk_file(x, d).exists() for x in pair for d in wanted)

    def interrupted() -> Iterator[bytes]:
        yield blocks[0]
        yield blocks[1]
        wait(lambda: on_both(digests[:2]), 20, "the first two chunks on both nodes")
        raise ConnectionAbortedError("the client goes away mid-upload")

    with pytest.raises((ConnectionAbortedError, httpx.HTTPError)):
        httpx.post(url, content=interrupted(), headers=a.headers(), timeout=60)
    assert "slow.bin" not in listing(a)
    wait(
        lambda: metric(a, "storage_chunks_pinned") == metric(b, "storage_chunks_pinned") == 0,
        20,
        "the interrupted upload's pins to lapse",
    )

    resume = threading.Event()
    answer: dict[str, httpx.Response] = {}

    def slow() -> Iterator[bytes]:
        yield blocks[0]
        yield blocks[1]
        resume.wait(60)
        yield blocks[2]

    def send() -> None:
        answer["r"] = httpx.post(url, content=slow(), headers=a.headers(), timeout=120)

    uploader = threading.Thread(target=send, daemon=True)
    uploader.start()
    try:
        wait(
            lambda: (
                metric(a, "storage_chunks_pinned") >= 2 and metric(b, "storage_chunks_pinned") >= 2
            ),
            20,
            "the re-upload's chunks pinned on both nodes",
        )
        cutoff = lambda: time.time() - GRACE  # noqa: E731 - read at each poll
        wait(
            lambda: all(
                chunk_file(x, d).stat().st_mtime < cutoff() for x in pair for d in digests[:2]
            ),
            20,
            "the reused chunks to pass the grace period",
        )
        gc_runs_twice(pair)
        assert on_both(digests[:2]), "a collection deleted a chunk the upload is using"
    finally:
        resume.set()
        uploader.join(60)
    assert answer["r"].status_code == 201, answer["r"].text
    assert sorted(answer["r"].json()["nodes"]) == sorted(x.info["node_id"] for x in pair)
    gc_runs_twice(pair)
    assert on_both(digests)
    wait(lambda: "slow.bin" in listing(b), 10, "the manifest on b")
    for agent in pair:
        entry = listing(agent)["slow.bin"]
        assert entry["health"] == "healthy"
        assert len(entry["nodes"]) == 2
    a.process.send_signal(signal.SIGKILL)
    a.process.wait(10)
    assert call(b, "GET", "/api/storage/slow.bin").content == b"".join(blocks)


def test_a_lost_copy_stops_counting_and_is_replaced(pair: list[AgentProcess]) -> None:
    a, b = pair
    content = block(99)
    digest = hashlib.sha256(content).hexdigest()
    stored = call(a, "POST", "/api/storage/upload?path=precious.bin", content=content)
    assert stored.status_code == 201, stored.text
    assert len(stored.json()["nodes"]) == 2
    wait(lambda: "precious.bin" in listing(b), 10, "the manifest on b")

    chunk_file(b, digest).unlink()
    # The node that lost the copy says so at once: its own copies are checked on its disk.
    entry = listing(b)["precious.bin"]
    assert entry["nodes"] == [a.info["node_id"]]
    assert entry["health"] == "degraded"

    # The other member learns it from b's own report, counts one copy and makes a new one.
    wait(
        lambda: any(
            topic == "storage.degraded" and event.get("path") == "precious.bin"
            for topic, event in replay_events(a, "storage")
        ),
        30,
        "a to see the file degraded",
    )
    wait(lambda: chunk_file(b, digest).exists(), 30, "the lost copy to be replaced")
    for agent in pair:
        wait(
            lambda x=agent: listing(x)["precious.bin"]["health"] == "healthy",
            15,
            "the file healthy again",
        )
    assert call(b, "GET", "/api/storage/precious.bin").content == content
