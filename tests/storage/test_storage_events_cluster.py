"""Every storage topic, published for real by three agents: an upload, a corrupt chunk
restored by the scrub, a holder lost (degraded), its chunk copied to the spare node
(replicated, then healthy again), and a delete. Each payload is exactly its topic's model."""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path

import pytest

from agent.storage import events
from tests.harness import (
    AgentProcess,
    agent_processes,
    call,
    form_cluster,
    replay_events,
    wait_until,
)
from tests.storage.test_storage_wire import check_payloads, only_storage

pytestmark = pytest.mark.slow
WAIT = 30


def room_known(agent: AgentProcess, count: int) -> bool:
    nodes = call(agent, "GET", "/api/nodes").json()["nodes"]
    free = [n["capabilities"].get("storage_free") for n in nodes]
    return len(free) == count and all(isinstance(f, int) for f in free)


def test_every_storage_topic_carries_its_payload(tmp_path: Path) -> None:
    homes = [tmp_path / f"n{i}" for i in range(3)]
    # A holder is suspect (not online) after 3 s of silence and replaced after 8: the file is
    # degraded in between (a pass that replaces it also reports it degraded first).
    flags = ("--storage-heal-after", "8", "--storage-scrub-interval", "1")
    with agent_processes(homes, *flags) as agents:
        form_cluster(agents)
        writer = agents[0]
        wait_until(lambda: room_known(writer, 3), WAIT, "every member's free space")
        content = b"all the topics" * 1000
        digest = hashlib.sha256(content).hexdigest()
        up = call(writer, "POST", "/api/storage/upload?path=t/f.bin", content=content)
        assert up.status_code == 201, up.text
        me = writer.info["node_id"]
        other = next(n for n in up.json()["nodes"] if n != me)

        def seen() -> set[str]:
            """Topics about the first file (or its chunk): the second one has events too."""
            events = replay_events(writer, "storage")
            return {t for t, d in events if d.get("path", "t/f.bin") == "t/f.bin"}

        # A file written through another member reaches the writer as one storage.synced.
        elsewhere = agents[1]
        elsewhere_id = elsewhere.info["node_id"]
        assert call(elsewhere, "POST", "/api/storage/upload?path=t/g.txt", content=b"g").is_success
        wait_until(lambda: "storage.synced" in seen(), WAIT, "the other member's file to arrive")

        chunk = writer.home / "storage" / "chunks" / digest[:2] / digest
        chunk.write_bytes(b"x" + chunk.read_bytes()[1:])
        wait_until(lambda: "storage.repaired" in seen(), WAIT, "the scrub to repair the chunk")

        victim = next(a for a in agents if a.info["node_id"] == other)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        wanted = {"storage.degraded", "storage.replicated", "storage.healthy"}
        wait_until(lambda: wanted <= seen(), WAIT, "the file degraded, copied and healthy")

        assert call(writer, "DELETE", "/api/storage/t/f.bin").status_code == 200
        wait_until(lambda: "storage.deleted" in seen(), WAIT, "the delete's event")

        found = only_storage(replay_events(writer, "storage"))
    check_payloads(found)
    assert {topic for topic, _ in found} == {t.name for t in events.TOPICS}
    # About the first file (the other one may have been degraded and copied too).
    by_topic = dict((t, d) for t, d in found if d.get("path", "t/f.bin") == "t/f.bin")
    assert by_topic["storage.uploaded"] == {
        "path": "t/f.bin",
        "size": len(content),
        "sha256": digest,
    }
    assert by_topic["storage.repaired"] == {"chunk": digest}
    assert by_topic["storage.degraded"] == by_topic["storage.healthy"] == {"path": "t/f.bin"}
    replicated = by_topic["storage.replicated"]
    assert (replicated["chunk"], replicated["path"]) == (digest, "t/f.bin")
    assert replicated["node_id"] not in (me, other)
    assert by_topic["storage.deleted"] == {"path": "t/f.bin"}
    synced = next(d for t, d in found if t == "storage.synced" and "t/g.txt" in d["paths"])
    assert synced["sender"] == elsewhere_id
    assert synced["count"] >= 1
