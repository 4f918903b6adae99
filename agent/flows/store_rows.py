"""Rows of flows' tables to and from their models, and the writes that run inside a store
transaction (see store.py)."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from agent.core.db import Row
from agent.flows.models import FlowRun, RunTrigger, StepRun
from agent.flows.records import Cursor, FlowRecord

RUN_COLUMNS = (
    "id, flow_id, flow_version, node_id, state, trigger_kind, trigger_at, trigger_payload,"
    " inputs, outputs, error, created_at, started_at, finished_at, skipped_count,"
    " parent_run_id, rerun_of, resumed"
)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


async def merge_cursor(conn: aiosqlite.Connection, cursor: Cursor) -> bool:
    async with conn.execute(
        "SELECT fired_at, node_id FROM flow_cursors WHERE flow_id = ? AND trigger_index = ?",
        (cursor.flow_id, cursor.trigger_index),
    ) as rows:
        held = await rows.fetchone()
    if held is not None and (cursor.fired_at, cursor.node_id) <= (
        held["fired_at"],
        held["node_id"],
    ):
        return False
    await conn.execute(
        "INSERT OR REPLACE INTO flow_cursors (flow_id, trigger_index, fired_at, node_id,"
        " signature) VALUES (?, ?, ?, ?, ?)",
        (cursor.flow_id, cursor.trigger_index, cursor.fired_at, cursor.node_id, cursor.signature),
    )
    return True


async def insert_run(
    conn: aiosqlite.Connection,
    run: FlowRun,
    definition: str | None,
    depth: int,
    position: int,
    blocked_by: str | None,
) -> bool:
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO flow_runs (id, flow_id, flow_version, node_id, state,"
        " trigger_kind, trigger_at, trigger_payload, inputs, outputs, error, created_at,"
        " started_at, finished_at, skipped_count, parent_run_id, rerun_of, resumed,"
        " blocked_by, depth, position, executions, definition)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        (
            run.id,
            run.flow_id,
            run.flow_version,
            run.node_id,
            run.state,
            run.trigger.kind,
            run.trigger.at,
            dumps(run.trigger.payload),
            dumps(run.inputs),
            dumps(run.outputs),
            run.error,
            run.created_at,
            run.started_at,
            run.finished_at,
            run.skipped_count,
            run.parent_run_id,
            run.rerun_of,
            run.resumed,
            blocked_by,
            depth,
            position,
            definition,
        ),
    )
    return cursor.rowcount > 0


async def save_step(conn: aiosqlite.Connection, run_id: str, position: int, step: StepRun) -> None:
    await conn.execute(
        "INSERT OR REPLACE INTO flow_steps (run_id, position, step_id, uses, state, attempts,"
        " inputs, outputs, error, logs, started_at, finished_at, duration_ms, wake_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            position,
            step.id,
            step.uses,
            step.state,
            step.attempts,
            dumps(step.inputs),
            dumps(step.outputs),
            step.error,
            dumps(step.logs),
            step.started_at,
            step.finished_at,
            step.duration_ms,
            step.wake_at,
        ),
    )


def record_of(row: Row) -> FlowRecord:
    return FlowRecord(
        flow_id=row["flow_id"],
        version=row["version"],
        author=row["author"],
        updated_at=row["updated_at"],
        deleted=bool(row["deleted"]),
        enabled=bool(row["enabled"]),
        format=row["format"],
        source=row["source"],
        signature=row["signature"],
    )


def cursor_of(row: Row) -> Cursor:
    return Cursor(
        row["flow_id"], row["trigger_index"], row["fired_at"], row["node_id"], row["signature"]
    )


def run_of(row: Row) -> FlowRun:
    return FlowRun(
        id=row["id"],
        flow_id=row["flow_id"],
        flow_version=row["flow_version"],
        node_id=row["node_id"],
        state=row["state"],
        trigger=RunTrigger(
            kind=row["trigger_kind"],
            at=row["trigger_at"],
            payload=json.loads(row["trigger_payload"]),
        ),
        inputs=json.loads(row["inputs"]),
        outputs=json.loads(row["outputs"]),
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_ms=duration_of(row["started_at"], row["finished_at"]),
        skipped_count=row["skipped_count"],
        parent_run_id=row["parent_run_id"],
        rerun_of=row["rerun_of"],
        resumed=row["resumed"],
    )


def duration_of(started: float | None, finished: float | None) -> float | None:
    return None if started is None or finished is None else (finished - started) * 1000


def step_of(row: Row) -> StepRun:
    return StepRun(
        id=row["step_id"],
        uses=row["uses"],
        state=row["state"],
        attempts=row["attempts"],
        inputs=json.loads(row["inputs"]),
        outputs=json.loads(row["outputs"]),
        error=row["error"],
        logs=json.loads(row["logs"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_ms=row["duration_ms"],
        wake_at=row["wake_at"],
    )
