"""Shared storage across three real agents: replication, failures, corruption, eviction."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    AgentProcess,
    agent_processes,
    call,
    form_cluster,
    replay_events,
    wait_until,
)

CHUNK = 4 * 1024 * 1024


@pytest.fixture
def storage_trio(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    homes = [tmp_path / f"node{i}" for i in range(3)]
    with agent_processes(homes, "--storage-scrub-interval", "1") as agents:
        form_cluster(agents)
        yield agents


def upload(agent: AgentProcess, path: str, data: bytes) -> dict[str, Any]:
    response = call(agent, "POST", f"/api/storage/upload?path={path}", content=data)
    assert response.status_code == 201, response.text
    return response.json()


def listing(agent: AgentProcess) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in call(agent, "GET", "/api/storage").json()["files"]}


def agent_of(agents: list[AgentProcess], node_id: str) -> AgentProcess:
    return next(a for a in agents if a.info["node_id"] == node_id)


def data(size: int, seed: int) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048
    return (block * (size // len(block) + 1))[:size]


def chunk_holders(agents: list[AgentProcess], content: bytes) -> list[set[str]]:
    """For each chunk of `content`, the nodes with a copy on disk. Placement is per chunk
    (most free space first), so one file's chunks may lie on different nodes."""
    holders = []
    for start in range(0, len(content), CHUNK):
        digest = hashlib.sha256(content[start : start + CHUNK]).hexdigest()
        holders.append(
            {
                a.info["node_id"]
                for a in agents
                if (a.home / "storage" / "chunks" / digest[:2] / digest).is_file()
            }
        )
    return holders


def third(agents: list[AgentProcess], *node_ids: str) -> AgentProcess:
    return next(a for a in agents if a.info["node_id"] not in node_ids)


def test_file_is_replicated_and_readable_everywhere(storage_trio: list[AgentProcess]) -> None:
    # Three different chunks: `data` repeats one block, so its chunks would be identical, and
    # an upload places each chunk it reads (a repeated one may land on another node too).
    content = data(CHUNK, 1) + data(CHUNK, 11) + data(10, 21)
    stored = upload(storage_trio[0], "shared/a.bin", content)
    first = storage_trio[0].info["node_id"]
    holders = chunk_holders(storage_trio, content)
    assert len(holders) == 3
    for nodes in holders:
        assert len(nodes) == 2, holders
        assert first in nodes, holders
    assert sorted(stored["nodes"]) == sorted(set().union(*holders))
    for agent in storage_trio:
        wait_until(lambda a=agent: "shared/a.bin" in listing(a), 10, "the manifest everywhere")
        assert call(agent, "GET", "/api/storage/shared/a.bin").content == content
    entry = listing(storage_trio[2])["shared/a.bin"]
    assert entry["health"] == "healthy"
    assert sorted(entry["nodes"]) == sorted(stored["nodes"])


def test_file_survives_the_loss_of_a_holder(storage_trio: list[AgentProcess]) -> None:
    content = data(CHUNK + 1, 2)
    stored = upload(storage_trio[0], "keep.bin", content)
    first = storage_trio[0].info["node_id"]
    other = next(n for n in stored["nodes"] if n != first)
    reader = third(storage_trio, first, other)
    wait_until(lambda: "keep.bin" in listing(reader), 10, "the manifest on the reader")
    victim = agent_of(storage_trio, other)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    assert call(reader, "GET", "/api/storage/keep.bin").content == content
    wait_until(
        lambda: listing(reader)["keep.bin"]["health"] == "degraded",
        15,
        "the file to show as degraded",
    )


def test_corrupt_chunk_is_detected_and_healed(storage_trio: list[AgentProcess]) -> None:
    content = data(CHUNK, 3)
    stored = upload(storage_trio[0], "fragile.bin", content)
    digest = hashlib.sha256(content).hexdigest()
    holder = agent_of(storage_trio, next(iter(stored["nodes"])))
    chunk = holder.home / "storage" / "chunks" / digest[:2] / digest
    damaged = bytearray(chunk.read_bytes())
    damaged[100] ^= 0xFF
    chunk.write_bytes(bytes(damaged))
    wait_until(
        lambda: hashlib.sha256(chunk.read_bytes()).hexdigest() == digest,
        20,
        "the scrub to restore the chunk from its replica",
    )
    assert _metric(holder, "openfabric_storage_chunks_repaired") >= 1
    assert _metric(holder, "openfabric_storage_chunks_corrupt") >= 1
    assert call(holder, "GET", "/api/storage/fragile.bin").content == content


def _metric(agent: AgentProcess, name: str) -> float:
    for family in call(agent, "GET", "/api/metrics").json()["metrics"]:
        if family["name"] == name:
            return sum(s["value"] for s in family["samples"] if s["name"].endswith("_total"))
    return 0.0


def test_eviction_re_replicates(storage_trio: list[AgentProcess]) -> None:
    content = data(CHUNK + 5, 4)
    stored = upload(storage_trio[0], "moved.bin", content)
    first = storage_trio[0].info["node_id"]
    other = next(n for n in stored["nodes"] if n != first)
    # The file's two chunks may lie on both other nodes: the spare may hold one already.
    spare = third(storage_trio, first, other)
    assert call(storage_trio[0], "DELETE", f"/api/nodes/{other}").status_code == 200

    def healed() -> bool:
        entry = listing(storage_trio[0]).get("moved.bin")
        return (
            bool(entry)
            and sorted(entry["nodes"]) == sorted([first, spare.info["node_id"]])
            and entry["health"] == "healthy"
        )

    wait_until(healed, 20, "the evicted holder's chunks to be copied to the spare node")
    assert call(spare, "GET", "/api/storage/moved.bin").content == content


def test_delete_reaches_every_member(storage_trio: list[AgentProcess]) -> None:
    upload(storage_trio[1], "temp.txt", b"short-lived")
    for agent in storage_trio:
        wait_until(lambda a=agent: "temp.txt" in listing(a), 10, "the file everywhere")
    assert call(storage_trio[2], "DELETE", "/api/storage/temp.txt").status_code == 200
    for agent in storage_trio:
        wait_until(lambda a=agent: "temp.txt" not in listing(a), 10, "the delete everywhere")
        assert call(agent, "GET", "/api/storage/temp.txt").status_code == 404


def test_last_writer_wins(storage_trio: list[AgentProcess]) -> None:
    upload(storage_trio[0], "race.txt", b"first")
    wait_until(lambda: "race.txt" in listing(storage_trio[1]), 10, "the first version")
    response = call(
        storage_trio[1],
        "POST",
        "/api/storage/upload?path=race.txt&overwrite=true",
        content=b"second",
    )
    assert response.status_code == 201
    for agent in storage_trio:
        wait_until(
            lambda a=agent: call(a, "GET", "/api/storage/race.txt").content == b"second",
            10,
            "the newest version everywhere",
        )


def test_holder_offline_past_the_limit_is_replaced(tmp_path: Path) -> None:
    homes = [tmp_path / f"n{i}" for i in range(3)]
    with agent_processes(homes, "--storage-heal-after", "2") as agents:
        form_cluster(agents)
        content = data(CHUNK, 5)
        stored = upload(agents[0], "durable.bin", content)
        first = agents[0].info["node_id"]
        other = next(n for n in stored["nodes"] if n != first)
        spare = next(a for a in agents if a.info["node_id"] not in stored["nodes"])
        events = replay_events(agents[0], "storage")
        victim = agent_of(agents, other)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        wait_until(
            lambda: spare.info["node_id"] in listing(agents[0])["durable.bin"]["nodes"],
            30,
            "a copy on the spare node once the holder stayed offline",
        )
        assert call(spare, "GET", "/api/storage/durable.bin").content == content
        topics = [t for t, _ in replay_events(agents[0], "storage")]
        assert "storage.degraded" in topics
        assert "storage.replicated" in topics
        assert "storage.uploaded" in [t for t, _ in events]


def test_quota_sends_chunks_elsewhere(tmp_path: Path) -> None:
    homes = [tmp_path / "small", tmp_path / "big1", tmp_path / "big2"]
    with (
        agent_processes(homes[:1], "--storage-quota", "1000") as small,
        agent_processes(homes[1:]) as big,
    ):
        agents = [*small, *big]
        form_cluster(agents)
        wait_until(
            lambda: all(
                "storage_free"
                in call(agents[0], "GET", f"/api/nodes/{a.info['node_id']}").json()["capabilities"]
                for a in agents
            ),
            15,
            "storage capacity from every node",
        )
        stored = upload(agents[0], "roomy.bin", data(CHUNK, 6))
        assert agents[0].info["node_id"] not in stored["nodes"]
        assert len(stored["nodes"]) == 2
        assert call(agents[0], "GET", "/api/storage/roomy.bin").content == data(CHUNK, 6)


def test_lone_node_over_quota_refuses_with_507(tmp_path: Path) -> None:
    with agent_processes([tmp_path / "tiny"], "--storage-quota", "1000") as (agent,):
        response = call(agent, "POST", "/api/storage/upload?path=x.bin", content=b"x" * 5000)
        assert response.status_code == 507
        assert response.json()["error_code"] == "INSUFFICIENT_STORAGE"
        assert call(agent, "GET", "/api/storage").json()["count"] == 0


def test_a_copy_refused_goes_to_the_next_member(tmp_path: Path) -> None:
    """The roomiest member dies just before an upload (still online in the writer's view): its
    copy fails, and the next member with room takes it, so the file still has two copies."""
    with (
        agent_processes([tmp_path / "writer", tmp_path / "roomy"]) as (writer, roomy),
        agent_processes([tmp_path / "spare"], "--storage-quota", "100000") as (spare,),
    ):
        agents = [writer, roomy, spare]
        form_cluster(agents)
        ids = {a.info["node_id"] for a in agents}

        def room_known() -> bool:
            nodes = call(writer, "GET", "/api/nodes").json()["nodes"]
            free = {n["node_id"]: n["capabilities"].get("storage_free") or 0 for n in nodes}
            return set(free) == ids and free[roomy.info["node_id"]] > free[spare.info["node_id"]]

        wait_until(room_known, 15, "the writer to know every member's room")
        roomy.process.send_signal(signal.SIGKILL)
        roomy.process.wait(10)
        stored = upload(writer, "two-copies.bin", b"c" * 10_000)
        assert set(stored["nodes"]) == {writer.info["node_id"], spare.info["node_id"]}, stored
