"""The names a run's expressions see (documented with the expression language):
`inputs`, `trigger`, `steps`, `run`, `flow`, `now`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio

from agent.flows.definition import FlowDefinition
from agent.flows.models import FlowRun, StepRun

T = TypeVar("T")


async def off_loop(evaluate: Callable[[Mapping[str, Any]], T], scope: Mapping[str, Any]) -> T:
    """An expression evaluated in a worker thread: evaluation waits on the expression
    sandbox's process, which must not hold the event loop."""
    return await anyio.to_thread.run_sync(evaluate, scope)


def step_view(step: StepRun | None) -> dict[str, Any]:
    if step is None:
        return {"outputs": {}, "state": "pending", "error": None}
    return {"outputs": step.outputs, "state": step.state, "error": step.error}


def run_scope(
    run: FlowRun,
    definition: FlowDefinition,
    steps: Mapping[str, StepRun],
    *,
    attempt: int,
    now: float,
) -> dict[str, Any]:
    started = run.started_at if run.started_at is not None else run.created_at
    return {
        "inputs": run.inputs,
        "trigger": {**run.trigger.payload, "kind": run.trigger.kind, "at": run.trigger.at},
        "steps": {step.id: step_view(steps.get(step.id)) for step in definition.steps},
        "run": {
            "id": run.id,
            "attempt": attempt,
            "started_at": started,
            "date": time.strftime("%Y-%m-%d", time.localtime(started)),
        },
        "flow": {"id": run.flow_id, "name": definition.name},
        "now": now,
    }


def event_scope(topic: str, seq: int, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": {"topic": topic, "id": seq, "data": dict(data)}}


def bounded_logs(logs: Sequence[str], line: str, max_lines: int, max_line: int) -> list[str]:
    kept = [*logs, line[:max_line]]
    return kept[-max_lines:]
