"""Finding 15: history is bounded. Finished tasks and their output go after
`task_retention_days` or beyond `task_retention_count`; active ones are never touched.
Inference records are in memory and capped; rotated logs can be pruned by age."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.metrics import Metrics
from agent.core.retention import prune_older_than
from agent.core.subsystem import Context
from agent.llm.chat import RECENT_KEPT, Inferences
from agent.peer.identity import load_or_create_identity
from agent.settings import Settings
from agent.tasks import retention as retention_module
from agent.tasks.retention import DAY_S, TaskRetention
from agent.tasks.store import FAILED, QUEUED, RUNNING, SUCCEEDED, Task, TaskStore
from tests.harness import live_agent, make_settings
from tests.tasks.conftest import submit, wait_task

NOW = 1_800_000_000.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TaskStore]:
    db = Database(tmp_path / "fabric.db")
    await db.open()
    tasks = TaskStore(db)
    await tasks.migrate()
    yield tasks
    await db.close()


def context(home: Path, **settings: Any) -> Context:
    return Context(
        settings=Settings(home=home, **settings),
        db=Database(home / "unused.db"),
        bus=EventBus(),
        metrics=Metrics(),
        identity=load_or_create_identity(home),
        version="0.0-test",
        clock=lambda: NOW,
    )


async def add(store: TaskStore, task_id: str, state: str, age_days: float, chunks: int = 3) -> None:
    at = NOW - age_days * DAY_S
    finished = state in (SUCCEEDED, FAILED)
    await store.save(
        Task(task_id=task_id, command="true", env={}, cwd=None, timeout_s=None, retries=0,
             labels={}, preferred_node=None, wait_for_node=True, submitted_at=at - 1,
             state=state, started_at=at - 1, ended_at=at if finished else None)
    )  # fmt: skip
    await store.append_output(task_id, [(i, "stdout", b"x" * 100) for i in range(chunks)])


async def kept(store: TaskStore) -> set[str]:
    rows = await store.db.fetchall("SELECT task_id FROM tasks")
    return {r["task_id"] for r in rows}


async def output_rows(store: TaskStore) -> set[str]:
    rows = await store.db.fetchall("SELECT DISTINCT task_id FROM task_output")
    return {r["task_id"] for r in rows}


async def test_old_finished_tasks_and_their_output_go(store: TaskStore, tmp_path: Path) -> None:
    await add(store, "old-done", SUCCEEDED, age_days=40)
    await add(store, "old-failed", FAILED, age_days=31)
    await add(store, "recent", SUCCEEDED, age_days=1)
    await add(store, "old-running", RUNNING, age_days=90)
    await add(store, "old-queued", QUEUED, age_days=90)
    ctx = context(tmp_path, task_retention_days=30, task_retention_count=0)
    assert await TaskRetention(ctx, store, set).prune() == 2
    assert await kept(store) == {"recent", "old-running", "old-queued"}
    assert await output_rows(store) == {"recent", "old-running", "old-queued"}


async def test_only_the_newest_finished_tasks_are_kept(store: TaskStore, tmp_path: Path) -> None:
    for n in range(6):
        await add(store, f"done-{n}", SUCCEEDED, age_days=n)
    await add(store, "running", RUNNING, age_days=10)
    await add(store, "queued", QUEUED, age_days=10)
    ctx = context(tmp_path, task_retention_days=0, task_retention_count=2)
    assert await TaskRetention(ctx, store, set).prune() == 4
    assert await kept(store) == {"done-0", "done-1", "running", "queued"}
    assert await output_rows(store) == {"done-0", "done-1", "running", "queued"}


async def test_pruning_goes_in_small_batches(
    store: TaskStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention_module, "BATCH", 3)
    monkeypatch.setattr(retention_module, "OUTPUT_BATCH", 4)
    statements: list[str] = []
    execute = store.db.execute

    async def counting(sql: str, params: Any = ()) -> int:
        statements.append(sql)
        return await execute(sql, params)

    monkeypatch.setattr(store.db, "execute", counting)
    for n in range(10):
        await add(store, f"done-{n}", SUCCEEDED, age_days=50, chunks=9)
    await add(store, "running", RUNNING, age_days=50, chunks=9)
    ctx = context(tmp_path, task_retention_days=30, task_retention_count=0)
    assert await TaskRetention(ctx, store, set).prune() == 10
    assert await kept(store) == {"running"}
    assert await output_rows(store) == {"running"}
    # No single statement deleted more than a batch of output rows.
    output_deletes = [s for s in statements if s.startswith("DELETE FROM task_output")]
    assert len(output_deletes) >= 90 // 4


async def test_a_task_the_scheduler_holds_is_never_pruned(store: TaskStore, tmp_path: Path) -> None:
    # Between a loss (saved as `lost`) and its retry (saved as `queued`) a task looks finished.
    await add(store, "retrying", FAILED, age_days=50)
    await add(store, "gone", FAILED, age_days=50)
    ctx = context(tmp_path, task_retention_days=30, task_retention_count=0)
    assert await TaskRetention(ctx, store, lambda: {"retrying"}).prune() == 1
    assert await kept(store) == {"retrying"}


async def test_retention_applies_when_the_agent_starts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with live_agent(make_settings(home)) as agent, agent.client() as client:
        for n in range(3):
            await wait_task(client, (await submit(client, command=f"echo {n}"))["task_id"])
    settings = make_settings(home, task_retention_count=1)
    async with live_agent(settings) as agent, agent.client() as client:
        deadline = time.monotonic() + 15
        while (await client.get("/api/tasks")).json()["total"] != 1:
            assert time.monotonic() < deadline, "old tasks were not pruned at start"
            await asyncio.sleep(0.02)
        body = (await client.get("/api/tasks")).json()
        assert body["tasks"][0]["stdout_bytes"] == 2


def test_inference_records_are_bounded() -> None:
    # They live in memory only (none in the database); finished ones are capped.
    records = Inferences(EventBus())
    running = records.start("m", "node")
    for _ in range(RECENT_KEPT * 3):
        records.finish(records.start("m", "node"), "done")
    assert len(records.items) <= RECENT_KEPT + 2
    assert running.inference_id in records.items


def test_rotated_logs_are_pruned_by_age(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    for name, age_days in [("agent.log", 90), ("agent.log.1", 1), ("agent.log.2", 40)]:
        path = logs / name
        path.write_text("line\n")
        os.utime(path, (now - age_days * DAY_S, now - age_days * DAY_S))
    deleted = prune_older_than(logs, "agent.log.*", 30 * DAY_S, now=now)
    assert deleted == [logs / "agent.log.2"]
    assert sorted(p.name for p in logs.iterdir()) == ["agent.log", "agent.log.1"]
    assert prune_older_than(logs, "agent.log.*", 0, now=now) == []
