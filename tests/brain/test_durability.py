"""The index across restarts: nothing unchanged is embedded again, a modified file re-embeds
only its changed chunks, a kill -9 in the middle of indexing leaves a consistent index, and
an index file that cannot be read is rebuilt from the vectors in the database."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.brain.live import events_about, paths, search, settled, status
from tests.harness import agent_process, replay_events, wait_until

# Each test starts an agent three times, and the model loads in two of them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PARAGRAPHS = [
    "Alpine marmots whistle to warn the colony when an eagle circles overhead. " * 6,
    "The ferry timetable changes in October, when the evening crossing is dropped. " * 6,
    "Copper pans should be dried at once, or green spots of verdigris appear. " * 6,
]


def test_a_restart_embeds_nothing_unchanged_and_only_changed_chunks(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    long = docs / "long.md"
    long.write_text("\n\n".join(f"## Part {i}\n\n{p}" for i, p in enumerate(PARAGRAPHS)))
    for i in range(4):
        (docs / f"note{i}.txt").write_text(f"Note {i}: the spare key is under pot number {i}.\n")
    env = {"OPENFABRIC_BRAIN_PATHS": str(docs)}
    home = tmp_path / "home"
    with agent_process(home, env=env) as agent:
        first = settled(agent)
        assert first["files"] == 5
        assert first["chunks"] >= 7

    with agent_process(home, env=env) as agent:
        again = settled(agent)
        assert (again["files"], again["chunks"], again["vectors"]) == (
            5,
            first["chunks"],
            first["chunks"],
        )
        assert not again["model_loaded"]  # nothing needed encoding: the model never loaded
        assert [t for t, _ in replay_events(agent, "brain.") if t.startswith("brain.")] == []
        assert str(docs / "note2.txt") in paths(search(agent, "pot number", mode="lexical"))

    # One paragraph of the long file changes while the agent is down.
    long.write_text(long.read_text().replace("verdigris", "tarnish"))
    with agent_process(home, env=env) as agent:
        wait_until(lambda: events_about(agent, "brain.indexed", long), 120, "long.md re-indexed")
        (event,) = events_about(agent, "brain.indexed", long)
        assert event["embedded"] >= 1
        assert event["reused"] >= 2
        assert event["embedded"] < event["chunks"]
        assert str(long) in paths(search(agent, "tarnish", mode="lexical"))
        assert str(long) not in paths(search(agent, "verdigris", mode="lexical"))


def test_a_kill_9_mid_indexing_leaves_a_consistent_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    total = 400
    for i in range(total):
        line = f"Inventory item {i}: token zq{i}x sits on shelf {i % 17}.\n"
        (docs / f"item{i:03d}.txt").write_text(line)
    env = {"OPENFABRIC_BRAIN_PATHS": str(docs)}
    home = tmp_path / "home"
    with agent_process(home, env=env) as agent:

        def partly() -> int | None:
            chunks = int(status(agent)["chunks"])
            return chunks if chunks > 0 else None

        at_kill = wait_until(partly, 120, "indexing to begin")
        agent.stop(signal.SIGKILL)
    assert at_kill < total, "indexing finished before the kill: the test proves nothing"

    with agent_process(home, env=env) as agent:
        after = settled(agent)
        assert (after["files"], after["chunks"], after["vectors"]) == (total, total, total)
        for i in (0, total // 2, total - 1):
            hits = search(agent, f"zq{i}x", mode="lexical", k=1)["hits"]
            assert [h["path"] for h in hits] == [str(docs / f"item{i:03d}.txt")]

    # An index file that cannot be read is rebuilt from the vectors SQLite keeps.
    (home / "brain" / "vectors.hnsw").write_bytes(b"\0garbage")
    with agent_process(home, env=env) as agent:
        rebuilt = settled(agent)
        assert (rebuilt["chunks"], rebuilt["vectors"]) == (total, total)
        began = time.monotonic()
        hits = search(agent, "inventory item on shelf number five", mode="vector", k=10)["hits"]
        assert len(hits) == 10
        assert time.monotonic() - began < 120
        assert "could not be loaded" in agent.log()
