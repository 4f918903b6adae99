"""Flows in SQLite: records, cursors, runs and their steps (see schema.py).

Every write goes through the single writer. A run's creation, the skipped record it may
bump and a trigger's cursor are written in one transaction, so a crash never leaves a cursor
that says a slot fired without its run (or the reverse).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiosqlite
import anyio

from agent.core.db import Database, Row
from agent.flows import store_rows as write
from agent.flows.models import FlowRun, StepRun
from agent.flows.records import Cursor, FlowRecord
from agent.flows.schema import MIGRATIONS
from agent.flows.store_rows import RUN_COLUMNS, cursor_of, record_of, run_of, step_of

# The definition of a record as JSON (None: a tombstone, or a source that does not parse).
Definer = Callable[[FlowRecord], "tuple[str, str] | None"]
ACTIVE_STATES = ("queued", "running", "waiting", "interrupted")
_ACTIVE = "('queued', 'running', 'waiting', 'interrupted')"
_RUN_COLUMNS = RUN_COLUMNS


@dataclass(frozen=True)
class StoredFlow:
    record: FlowRecord
    created_at: float
    name: str | None
    definition: str | None


@dataclass(frozen=True)
class RunPlace:
    """What the engine needs to go on with an unfinished run."""

    definition: str | None
    position: int
    executions: int
    depth: int


class FlowStore:
    def __init__(self, db: Database, definer: Definer | None = None) -> None:
        self.db = db
        self._definer = definer
        # Cursors' fired_at by (flow_id, trigger_index), for triggers that ask synchronously.
        self._fired: dict[tuple[str, int], float] = {}

    # Reads that decide what happens next go through the writer: the reader connection is
    # shared, and a read overlapping another one sees the snapshot that one began with, so
    # it can miss a write committed just before. Only listings read from the reader.

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        # Shielded: a transaction cancelled between its BEGIN and its end would leave the
        # writer inside it (the ROLLBACK is an await the cancellation interrupts too), and
        # runs are cancelled at any point. Each one here is short.
        with anyio.CancelScope(shield=True):
            async with self.db.transaction() as conn:
                yield conn

    async def _all(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        async with self._transaction() as conn, conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _one(self, sql: str, params: tuple[object, ...] = ()) -> Row | None:
        async with self._transaction() as conn, conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    def use_definer(self, definer: Definer) -> None:
        self._definer = definer

    async def migrate(self) -> None:
        await self.db.migrate("flows", MIGRATIONS)
        self._fired = {c.key: c.fired_at for c in await self.cursors()}

    def last_fired(self, flow_id: str, trigger_index: int) -> float | None:
        return self._fired.get((flow_id, trigger_index))

    def _fired_at(self, cursor: Cursor) -> None:
        self._fired[cursor.key] = max(cursor.fired_at, self._fired.get(cursor.key, 0.0))

    # Records ---------------------------------------------------------------------------

    async def records(self) -> list[FlowRecord]:
        rows = await self._all("SELECT * FROM flow_records ORDER BY flow_id")
        return [record_of(row) for row in rows]

    async def record(self, flow_id: str) -> FlowRecord | None:
        row = await self._one("SELECT * FROM flow_records WHERE flow_id = ?", (flow_id,))
        return record_of(row) if row else None

    async def flows(self) -> list[StoredFlow]:
        rows = await self._all("SELECT * FROM flow_records WHERE deleted = 0")
        return [_stored(row) for row in rows]

    async def flow(self, flow_id: str) -> StoredFlow | None:
        row = await self._one("SELECT * FROM flow_records WHERE flow_id = ?", (flow_id,))
        return _stored(row) if row else None

    async def merge_record(self, record: FlowRecord) -> bool:
        """Store `record` when it is newer than the one held; True when it changed anything."""
        defined = None
        if not record.deleted and self._definer is not None:
            defined = self._definer(record)
        return await self.save_record(record, defined)

    async def save_record(
        self, record: FlowRecord, defined: tuple[str, str] | None, *, created_at: float = 0.0
    ) -> bool:
        """`defined`: (name, definition JSON). Stored only when newer than the record held."""
        name, definition = defined if defined else (None, None)
        async with self._transaction() as conn:
            async with conn.execute(
                "SELECT version, updated_at, author, created_at FROM flow_records"
                " WHERE flow_id = ?",
                (record.flow_id,),
            ) as cursor:
                held = await cursor.fetchone()
            if held is not None:
                if record.order <= (held["version"], held["updated_at"], held["author"]):
                    return False
                created_at = held["created_at"]
            await conn.execute(
                "INSERT OR REPLACE INTO flow_records (flow_id, version, author, updated_at,"
                " deleted, enabled, format, source, signature, created_at, name, definition)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.flow_id,
                    record.version,
                    record.author,
                    record.updated_at,
                    int(record.deleted),
                    int(record.enabled),
                    record.format,
                    record.source,
                    record.signature,
                    created_at or record.updated_at,
                    name,
                    definition,
                ),
            )
        return True

    # Cursors ---------------------------------------------------------------------------

    async def cursors(self) -> list[Cursor]:
        rows = await self._all("SELECT * FROM flow_cursors ORDER BY flow_id")
        return [cursor_of(row) for row in rows]

    async def cursor(self, flow_id: str, trigger_index: int) -> Cursor | None:
        row = await self._one(
            "SELECT * FROM flow_cursors WHERE flow_id = ? AND trigger_index = ?",
            (flow_id, trigger_index),
        )
        return cursor_of(row) if row else None

    async def merge_cursor(self, cursor: Cursor) -> bool:
        async with self._transaction() as conn:
            merged = await write.merge_cursor(conn, cursor)
        if merged:
            self._fired_at(cursor)
        return merged

    # Runs ------------------------------------------------------------------------------

    async def runs_of(self, flow_id: str, limit: int) -> list[FlowRun]:
        rows = await self.db.fetchall(
            f"SELECT {_RUN_COLUMNS} FROM flow_runs WHERE flow_id = ?"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (flow_id, limit),
        )
        return [run_of(row) for row in rows]

    async def run(self, run_id: str) -> FlowRun | None:
        row = await self._one(f"SELECT {_RUN_COLUMNS} FROM flow_runs WHERE id = ?", (run_id,))
        if row is None:
            return None
        run = run_of(row)
        steps = await self._all(
            "SELECT * FROM flow_steps WHERE run_id = ? ORDER BY position", (run_id,)
        )
        run.steps = [step_of(step) for step in steps]
        return run

    async def last_run(self, flow_id: str) -> FlowRun | None:
        runs = await self.runs_of(flow_id, 1)
        return runs[0] if runs else None

    async def place(self, run_id: str) -> RunPlace | None:
        row = await self._one(
            "SELECT definition, position, executions, depth FROM flow_runs WHERE id = ?",
            (run_id,),
        )
        if row is None:
            return None
        return RunPlace(row["definition"], row["position"], row["executions"], row["depth"])

    async def active_runs(self, flow_id: str) -> list[FlowRun]:
        """The flow's unfinished runs (skipped records aside), oldest first."""
        rows = await self._all(
            f"SELECT {_RUN_COLUMNS} FROM flow_runs WHERE flow_id = ? AND state IN {_ACTIVE}"
            " ORDER BY created_at, rowid",
            (flow_id,),
        )
        return [run_of(row) for row in rows]

    async def children(self, parent_run_id: str) -> list[str]:
        """The unfinished sub-runs of a run."""
        rows = await self._all(
            f"SELECT id FROM flow_runs WHERE parent_run_id = ? AND state IN {_ACTIVE}",
            (parent_run_id,),
        )
        return [row["id"] for row in rows]

    async def unfinished(self, node_id: str) -> list[FlowRun]:
        rows = await self._all(
            f"SELECT {_RUN_COLUMNS} FROM flow_runs WHERE node_id = ? AND state IN {_ACTIVE}"
            " ORDER BY created_at, rowid",
            (node_id,),
        )
        return [run_of(row) for row in rows]

    async def insert_run(
        self,
        run: FlowRun,
        *,
        definition: str | None,
        depth: int = 0,
        cursor: Cursor | None = None,
        position: int = 0,
        step_positions: dict[str, int] | None = None,
    ) -> bool:
        """Insert `run` (and its copied steps, at their place in the definition) unless its
        id exists; True when inserted. `cursor` is merged in the same transaction, only when
        the run is new."""
        async with self._transaction() as conn:
            inserted = await write.insert_run(conn, run, definition, depth, position, None)
            if inserted:
                places = step_positions or {}
                for index, step in enumerate(run.steps):
                    await write.save_step(conn, run.id, places.get(step.id, index), step)
                if cursor is not None and await write.merge_cursor(conn, cursor):
                    self._fired_at(cursor)
            return inserted

    async def skip(self, run: FlowRun, blocked_by: str, cursor: Cursor | None) -> FlowRun:
        """Record a skipped trigger: a new skipped run, or one more on the record that
        already stands for the triggers skipped while `blocked_by` goes on. Answers the
        record with `skipped_count`; a count of 1 means it was just created."""
        async with self._transaction() as conn:
            async with conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM flow_runs WHERE flow_id = ? AND blocked_by = ?"
                " AND state = 'skipped'",
                (run.flow_id, blocked_by),
            ) as rows:
                held = await rows.fetchone()
            if held is None:
                inserted = await write.insert_run(conn, run, None, 0, 0, blocked_by)
                record = run
            else:
                record = run_of(held)
                inserted = False
                if run.id != record.id:
                    await conn.execute(
                        "UPDATE flow_runs SET skipped_count = skipped_count + 1 WHERE id = ?",
                        (record.id,),
                    )
                    record.skipped_count += 1
                    inserted = True
            if inserted and cursor is not None and await write.merge_cursor(conn, cursor):
                self._fired_at(cursor)
            return record

    async def update_run(
        self, run: FlowRun, *, position: int | None = None, executions: int | None = None
    ) -> None:
        finished = run.state in ("succeeded", "failed", "cancelled", "skipped")
        await self.db.execute(
            "UPDATE flow_runs SET state = ?, outputs = ?, error = ?, started_at = ?,"
            " finished_at = ?, resumed = ?, position = COALESCE(?, position),"
            " executions = COALESCE(?, executions),"
            " definition = CASE WHEN ? THEN NULL ELSE definition END WHERE id = ?",
            (
                run.state,
                write.dumps(run.outputs),
                run.error,
                run.started_at,
                run.finished_at,
                run.resumed,
                position,
                executions,
                int(finished),
                run.id,
            ),
        )

    async def save_step(self, run_id: str, position: int, step: StepRun) -> None:
        async with self._transaction() as conn:
            await write.save_step(conn, run_id, position, step)

    async def cancel_step(self, run_id: str, step_id: str, at: float) -> None:
        await self.db.execute(
            "UPDATE flow_steps SET state = 'cancelled', finished_at = ?, wake_at = NULL"
            " WHERE run_id = ? AND step_id = ?",
            (at, run_id, step_id),
        )

    async def delete_run(self, run_id: str) -> bool:
        return await self.db.execute("DELETE FROM flow_runs WHERE id = ?", (run_id,)) > 0

    async def delete_runs_of(self, flow_id: str) -> int:
        return await self.db.execute("DELETE FROM flow_runs WHERE flow_id = ?", (flow_id,))

    async def prune(self, flow_id: str, keep: int) -> int:
        """Delete the flow's finished runs beyond the newest `keep`; answers how many."""
        return await self.db.execute(
            f"DELETE FROM flow_runs WHERE id IN (SELECT id FROM flow_runs WHERE flow_id = ?"
            f" AND state NOT IN {_ACTIVE} ORDER BY created_at DESC, rowid DESC"
            " LIMIT -1 OFFSET ?)",
            (flow_id, keep),
        )


def _stored(row: Row) -> StoredFlow:
    return StoredFlow(record_of(row), row["created_at"], row["name"], row["definition"])
