"""Tasks SQL: task records (owned by the node they were submitted to) and their output."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

import anyio
import anyio.lowlevel

from agent.core.db import Database, Migration

# The states are part of the wire contract; they are re-exported here for the server's code.
from agent.tasks.models import ACTIVE as ACTIVE
from agent.tasks.models import CANCELLED as CANCELLED
from agent.tasks.models import FAILED as FAILED
from agent.tasks.models import FINAL as FINAL
from agent.tasks.models import LOST as LOST
from agent.tasks.models import QUEUED as QUEUED
from agent.tasks.models import RUNNING as RUNNING
from agent.tasks.models import SCHEDULED as SCHEDULED
from agent.tasks.models import STATES as STATES
from agent.tasks.models import SUCCEEDED as SUCCEEDED
from agent.tasks.models import TIMED_OUT as TIMED_OUT

MIGRATIONS = [
    Migration(
        "0001_tasks",
        """
        CREATE TABLE tasks (
            task_id TEXT PRIMARY KEY,
            command TEXT NOT NULL,
            env TEXT NOT NULL,
            cwd TEXT,
            timeout_s REAL,
            retries INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            labels TEXT NOT NULL,
            preferred_node TEXT,
            wait_for_node INTEGER NOT NULL,
            state TEXT NOT NULL,
            node_id TEXT,
            pid INTEGER,
            exit_code INTEGER,
            signal INTEGER,
            error TEXT,
            excluded_nodes TEXT NOT NULL,
            submitted_at REAL NOT NULL,
            scheduled_at REAL,
            started_at REAL,
            ended_at REAL,
            stdout_bytes INTEGER NOT NULL,
            stderr_bytes INTEGER NOT NULL,
            truncated INTEGER NOT NULL
        );
        CREATE INDEX tasks_by_state ON tasks (state, submitted_at);
        CREATE INDEX tasks_by_time ON tasks (submitted_at);
        CREATE TABLE task_output (
            task_id TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            stream TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
            data BLOB NOT NULL,
            PRIMARY KEY (task_id, seq)
        );
        """,
    ),
    Migration(
        "0002_remote_runs",
        """
        CREATE TABLE remote_runs (
            pid INTEGER PRIMARY KEY,
            caller TEXT NOT NULL,
            task_id TEXT NOT NULL,
            started_at REAL NOT NULL
        );
        """,
    ),
    Migration("0003_state_detail", "ALTER TABLE tasks ADD COLUMN state_detail TEXT;"),
]

_JSON = {"env", "labels", "excluded_nodes"}
_FINAL_MARKS = ", ".join("?" for _ in FINAL)


@dataclass
class Task:
    task_id: str
    command: str
    env: dict[str, str]
    cwd: str | None
    timeout_s: float | None
    retries: int
    labels: dict[str, str]
    preferred_node: str | None
    wait_for_node: bool
    submitted_at: float
    state: str = QUEUED
    attempts: int = 0
    node_id: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    excluded_nodes: list[str] = field(default_factory=list)
    scheduled_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    truncated: bool = False
    # Why the task is in its state, where the state alone does not say (why a queued task
    # waits); cleared by every change of state.
    state_detail: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL


_COLUMNS = [f.name for f in fields(Task)]


def _row(task: Task) -> tuple[Any, ...]:
    values = []
    for name in _COLUMNS:
        value = getattr(task, name)
        values.append(json.dumps(value) if name in _JSON else value)
    return tuple(values)


def _task(row: Any) -> Task:
    data = dict(row)
    for name in _JSON:
        data[name] = json.loads(data[name])
    data["wait_for_node"] = bool(data["wait_for_node"])
    data["truncated"] = bool(data["truncated"])
    return Task(**data)


class TaskStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("tasks", MIGRATIONS)

    async def save(self, task: Task) -> None:
        placeholders = ", ".join("?" for _ in _COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "task_id")
        await self.db.execute(
            f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
            f" ON CONFLICT(task_id) DO UPDATE SET {updates}",
            _row(task),
        )

    async def get(self, task_id: str) -> Task | None:
        row = await self.db.fetchone("SELECT * FROM tasks WHERE task_id = ?", (task_id,))
        return _task(row) if row else None

    async def in_states(self, states: tuple[str, ...]) -> list[Task]:
        marks = ", ".join("?" for _ in states)
        rows = await self.db.fetchall(
            f"SELECT * FROM tasks WHERE state IN ({marks}) ORDER BY submitted_at", states
        )
        return [_task(r) for r in rows]

    async def page(
        self, *, state: str | None, node: str | None, limit: int, offset: int
    ) -> tuple[list[Task], int]:
        where, params = [], []
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if node is not None:
            where.append("node_id = ?")
            params.append(node)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = await self.db.fetchone(f"SELECT COUNT(*) FROM tasks {clause}", params)
        rows = await self.db.fetchall(
            f"SELECT * FROM tasks {clause} ORDER BY submitted_at DESC, task_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_task(r) for r in rows], int(total[0]) if total else 0

    async def append_output(self, task_id: str, chunks: list[tuple[int, str, bytes]]) -> None:
        await self.db.executemany(
            "INSERT INTO task_output (task_id, seq, stream, data) VALUES (?, ?, ?, ?)",
            [(task_id, seq, stream, data) for seq, stream, data in chunks],
        )

    async def output(self, task_id: str, after_seq: int = -1) -> list[tuple[int, str, bytes]]:
        rows = await self.db.fetchall(
            "SELECT seq, stream, data FROM task_output WHERE task_id = ? AND seq > ? ORDER BY seq",
            (task_id, after_seq),
        )
        return [(r["seq"], r["stream"], bytes(r["data"])) for r in rows]

    async def last_seq(self, task_id: str) -> int:
        row = await self.db.fetchone(
            "SELECT MAX(seq) FROM task_output WHERE task_id = ?", (task_id,)
        )
        return int(row[0]) if row and row[0] is not None else -1

    async def add_remote_run(self, pid: int, caller: str, task_id: str, started_at: float) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO remote_runs (pid, caller, task_id, started_at)"
            " VALUES (?, ?, ?, ?)",
            (pid, caller, task_id, started_at),
        )

    async def remove_remote_run(self, pid: int) -> None:
        await self.db.execute("DELETE FROM remote_runs WHERE pid = ?", (pid,))

    async def take_remote_runs(self) -> list[tuple[int, float]]:
        """Every recorded remote run, forgetting them (used once at start)."""
        rows = await self.db.fetchall("SELECT pid, started_at FROM remote_runs")
        await self.db.execute("DELETE FROM remote_runs")
        return [(int(r["pid"]), float(r["started_at"])) for r in rows]

    async def finished_before(self, cutoff: float, limit: int) -> list[str]:
        """Finished tasks that ended before `cutoff`, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT task_id FROM tasks WHERE state IN ({_FINAL_MARKS}) AND ended_at < ?"
            " ORDER BY ended_at LIMIT ?",
            (*FINAL, cutoff, limit),
        )
        return [r["task_id"] for r in rows]

    async def finished_beyond(self, keep: int, limit: int) -> list[str]:
        """Finished tasks beyond the `keep` that ended last."""
        rows = await self.db.fetchall(
            f"SELECT task_id FROM tasks WHERE state IN ({_FINAL_MARKS})"
            " ORDER BY COALESCE(ended_at, submitted_at) DESC, task_id DESC LIMIT ? OFFSET ?",
            (*FINAL, limit, keep),
        )
        return [r["task_id"] for r in rows]

    async def delete_finished(self, task_ids: list[str], output_batch: int) -> int:
        """Delete finished tasks and their output; answers how many tasks went.

        Output goes first, `output_batch` rows per statement, so no single write holds the
        database for long (a task may have hundreds of thousands of chunks)."""
        marks = ", ".join("?" for _ in task_ids)
        while True:
            deleted = await self.db.execute(
                "DELETE FROM task_output WHERE rowid IN (SELECT rowid FROM task_output"
                f" WHERE task_id IN ({marks}) LIMIT ?)",
                (*task_ids, output_batch),
            )
            if deleted < output_batch:
                break
            await anyio.lowlevel.checkpoint()  # let other writers in between batches
        return await self.db.execute(
            f"DELETE FROM tasks WHERE task_id IN ({marks}) AND state IN ({_FINAL_MARKS})",
            (*task_ids, *FINAL),
        )
