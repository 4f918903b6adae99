"""How the end of a dispatch is recorded: the run's final state, a return to the queue, or a
loss (queued again while retries are left, preferring a node it was not lost on).

Only dispatch and infrastructure failures count against the node's breaker (never a
command's own exit status); they, and a node answering busy, also put the node on hold.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from agent.tasks.breaker import CircuitBreaker
from agent.tasks.execution import (
    CommandRejected,
    DispatchFailed,
    Execution,
    ExecutionLost,
    NodeBusy,
)
from agent.tasks.holds import NodeHolds
from agent.tasks.logs import TaskLogs
from agent.tasks.runner import RunResult
from agent.tasks.store import (
    CANCELLED,
    FAILED,
    LOST,
    QUEUED,
    SCHEDULED,
    SUCCEEDED,
    TIMED_OUT,
    Task,
)
from agent.tasks.transitions import Transitions

log = logging.getLogger("openfabric.tasks")
STOPPED = "the agent stopped while the task was running"

Outcome = RunResult | Exception | None  # None: cut short, `Dispatch.lost_reason` says why


@dataclass
class Dispatch:
    task: Task
    node_id: str
    execution: Execution | None = None
    # Cancelled to cut the run short; `lost_reason` says why.
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    cancel_requested: bool = False
    lost_reason: str | None = None


@dataclass
class Stats:
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    outcomes: Counter[str] = field(default_factory=Counter)


class Outcomes:
    def __init__(
        self,
        transitions: Transitions,
        logs: TaskLogs,
        stats: Stats,
        holds: NodeHolds,
        enqueue: Callable[[Task], None],
    ) -> None:
        self.t = transitions
        self.logs = logs
        self.stats = stats
        self.holds = holds
        self.enqueue = enqueue

    async def settle(self, dispatch: Dispatch, outcome: Outcome, breaker: CircuitBreaker) -> None:
        task, node_id = dispatch.task, dispatch.node_id
        if isinstance(outcome, RunResult):
            breaker.record_success()
            self.holds.release(node_id)
            await self.end(task, state_of(outcome, dispatch.cancel_requested), result=outcome)
        elif isinstance(outcome, NodeBusy):  # its load as we heard it was stale: no failure
            self.holds.hold(node_id)
            await self.requeue(task, error=str(outcome))
        elif isinstance(outcome, DispatchFailed):
            breaker.record_failure()
            self.holds.hold(node_id)
            log.info("dispatch of %s to %s failed: %s", task.task_id, node_id, outcome)
            await self.requeue(task, error=str(outcome))
        elif isinstance(outcome, CommandRejected):
            breaker.record_success()
            state = CANCELLED if dispatch.cancel_requested else FAILED
            await self.end(task, state, error=str(outcome))
        elif isinstance(outcome, ExecutionLost):
            breaker.record_failure()
            self.holds.hold(node_id)
            await self.lost(task, node_id, str(outcome))
        elif outcome is not None:
            await self.end(task, FAILED, error=f"the dispatch broke: {outcome}")
        elif dispatch.cancel_requested:
            await self.end(task, CANCELLED, error=dispatch.lost_reason)
        else:
            await self.lost(task, node_id, dispatch.lost_reason or STOPPED)

    async def end(
        self, task: Task, state: str, *, error: str | None = None, result: RunResult | None = None
    ) -> None:
        await self.logs.close(task.task_id)
        changes: dict[str, Any] = {"error": error}
        if result is not None:
            changes.update(
                exit_code=result.exit_code,
                signal=result.signal,
                stdout_bytes=result.stdout_bytes,
                stderr_bytes=result.stderr_bytes,
                truncated=result.truncated,
                ended_at=result.ended_at,
            )
        self.stats.outcomes[state] += 1
        await self.t.finish(task, state, **changes)
        await self.logs.close(task.task_id)

    async def requeue(self, task: Task, error: str) -> None:
        await self.logs.close(task.task_id)
        await self.t.move(task, QUEUED, node_id=None, error=error)
        self.enqueue(task)

    async def lost(self, task: Task, node_id: str, reason: str) -> None:
        if task.state == SCHEDULED:  # never started: not an attempt, just place it again
            await self.requeue(task, error=reason)
            return
        if task.attempts <= task.retries:
            await self.logs.close(task.task_id)
            excluded = sorted({*task.excluded_nodes, node_id})
            await self.t.move(task, LOST, error=reason)
            await self.t.move(task, QUEUED, node_id=None, excluded_nodes=excluded)
            self.enqueue(task)
            return
        await self.end(task, LOST, error=reason)


def state_of(result: RunResult, cancel_requested: bool) -> str:
    if result.timed_out:
        return TIMED_OUT
    if result.cancelled or cancel_requested:
        return CANCELLED
    return SUCCEEDED if result.exit_code == 0 else FAILED
