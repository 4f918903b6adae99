"""Placement and dispatch of queued tasks.

Contract:
- Queued tasks are placed in submission order. A task with a preferred node goes there only
  (it waits, queued, while that node is offline or full); others go to the least-loaded
  eligible node: online, breaker not open, below its concurrency limit, and for another node,
  accepting remote commands. Ties favour this node (no network hop).
- Every transition is saved and published as `task.<state>` before anything acts on it.
- Dispatch and infrastructure failures (never a command's own exit status) are recorded on
  the node's breaker; a task whose dispatch failed goes back to the queue.
- A task whose node goes offline, or stops answering, while it runs becomes `lost`; with
  retries left it is queued again, preferring a node it has not been lost on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from agent.cluster.membership import ONLINE, Membership
from agent.cluster.service import TelemetrySource
from agent.core.subsystem import Context
from agent.peer.client import PeerClient
from agent.tasks.breaker import BreakerBoard
from agent.tasks.containment import TaskJail
from agent.tasks.execution import (
    CommandRejected,
    DispatchFailed,
    Execution,
    ExecutionLost,
    LocalExecution,
    NodeBusy,
    RemoteExecution,
)
from agent.tasks.logs import TaskLogs
from agent.tasks.runner import RunResult
from agent.tasks.slots import Slots
from agent.tasks.store import (
    CANCELLED,
    FAILED,
    LOST,
    QUEUED,
    RUNNING,
    SCHEDULED,
    SUCCEEDED,
    TIMED_OUT,
    Task,
)
from agent.tasks.transitions import Transitions

log = logging.getLogger("openfabric.tasks")
TICK_S = 0.25


@dataclass
class Dispatch:
    task: Task
    node_id: str
    execution: Execution | None = None
    job: asyncio.Task[None] | None = None
    cancel_requested: bool = False
    lost_reason: str | None = None


@dataclass
class Stats:
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    outcomes: Counter[str] = field(default_factory=Counter)


@functools.cache
def _cpu_count() -> int:
    # os.cpu_count() reads sysfs on every call; placement asks for it constantly.
    return os.cpu_count() or 1


def local_limit(ctx: Context) -> int:
    return ctx.settings.max_tasks or _cpu_count()


class Scheduler:
    def __init__(
        self,
        ctx: Context,
        transitions: Transitions,
        logs: TaskLogs,
        membership: Membership,
        peers: PeerClient,
        breakers: BreakerBoard,
        slots: Slots,
        telemetry: TelemetrySource,
        jail: TaskJail | None = None,
    ) -> None:
        self.ctx = ctx
        self.telemetry = telemetry
        self.jail = jail
        self.t = transitions
        self.logs = logs
        self.membership = membership
        self.peers = peers
        self.breakers = breakers
        self.slots = slots
        self.queue: dict[str, Task] = {}
        self.inflight: dict[str, Dispatch] = {}
        self.stats = Stats()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def enqueue(self, task: Task) -> None:
        self.queue[task.task_id] = task
        self.wake()

    async def run(self) -> None:
        while True:
            # Woken by submissions and endings; the tick re-checks nodes and breakers.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            self._wake.clear()
            self.ctx.capabilities["tasks_busy"] = self.slots.busy
            self._mark_lost_on_offline_nodes()
            await self._place_queued()

    async def stop(self) -> None:
        for dispatch in list(self.inflight.values()):
            dispatch.lost_reason = "the agent stopped while the task was running"
            if dispatch.job is not None:
                dispatch.job.cancel()
        jobs = [d.job for d in self.inflight.values() if d.job is not None]
        if jobs:
            await asyncio.wait(jobs, timeout=0.8)

    # -- placement -------------------------------------------------------------------------

    def running_on(self, node_id: str) -> int:
        """Slots taken on the node: ours as we know them, or as the node last reported
        (which also counts other members' tasks there), whichever is more."""
        ours = sum(1 for d in self.inflight.values() if d.node_id == node_id)
        if node_id == self.membership.node_id:
            return max(ours, self.slots.busy)
        live = self.membership.live.get(node_id)
        reported = live.capabilities.get("tasks_busy") if live else None
        return max(ours, reported) if isinstance(reported, int) else ours

    def limit_of(self, node_id: str) -> int:
        if node_id == self.membership.node_id:
            return local_limit(self.ctx)
        live = self.membership.live.get(node_id)
        value = live.capabilities.get("max_tasks") if live else None
        return int(value) if isinstance(value, int) and value > 0 else 1

    def eligible(self, node_id: str) -> bool:
        if self.membership.state_of(node_id) != ONLINE:
            return False
        if self.breakers.get(node_id).state == "open":
            return False
        if self.running_on(node_id) >= self.limit_of(node_id):
            return False
        if node_id == self.membership.node_id:
            return True
        live = self.membership.live.get(node_id)
        return bool(live and live.capabilities.get("remote_exec") is True)

    def _load(self, node_id: str) -> tuple[float, int]:
        """Lower is better: task slots in use weigh most, then CPU, then memory in use."""
        is_self = node_id == self.membership.node_id
        live = self.membership.live.get(node_id)
        sample = self.telemetry.latest() if is_self else (live.telemetry if live else None)
        cpu = memory = 0.0
        if sample:
            try:
                cpu = float(sample["cpu"]["percent"]) / 100
                memory = 1 - sample["memory"]["available"] / sample["memory"]["total"]
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                cpu = memory = 0.0
        busy = self.running_on(node_id) / self.limit_of(node_id)
        return (2 * busy + cpu + memory / 2, 0 if is_self else 1)

    def choose(self, task: Task) -> str | None:
        if task.preferred_node is not None:
            candidates = [task.preferred_node] if self.eligible(task.preferred_node) else []
        else:
            candidates = [m.node_id for m in self.membership.active() if self.eligible(m.node_id)]
            fresh = [n for n in candidates if n not in task.excluded_nodes]
            candidates = fresh or candidates
        for node_id in sorted(candidates, key=self._load):
            if self.breakers.get(node_id).allow():
                return node_id
        return None

    def _any_free_slot(self) -> bool:
        return any(
            self.running_on(m.node_id) < self.limit_of(m.node_id) for m in self.membership.active()
        )

    async def _place_queued(self) -> None:
        for task in list(self.queue.values()):
            if not self._any_free_slot():
                return  # every slot is busy: the next task ending wakes us
            if task.preferred_node is not None and not self._still_member(task.preferred_node):
                self.queue.pop(task.task_id, None)
                await self.t.finish(
                    task, FAILED, error="the preferred node is no longer a member of the cluster"
                )
                continue
            node_id = self.choose(task)
            if node_id is None:
                continue
            self.queue.pop(task.task_id, None)
            await self._dispatch(task, node_id)

    def _still_member(self, node_id: str) -> bool:
        member = self.membership.members.get(node_id)
        return member is not None and member.status == "member"

    # -- dispatch --------------------------------------------------------------------------

    async def _dispatch(self, task: Task, node_id: str) -> None:
        dispatch = Dispatch(task, node_id)
        self.inflight[task.task_id] = dispatch
        await self.t.move(
            task, SCHEDULED, node_id=node_id, scheduled_at=self.ctx.clock(), pid=None, error=None
        )
        await self.logs.open(task.task_id)
        dispatch.execution = self._execution(dispatch)
        dispatch.job = asyncio.get_running_loop().create_task(self._execute(dispatch))

    def _execution(self, dispatch: Dispatch) -> Execution:
        task = dispatch.task

        async def started(pid: int, started_at: float) -> None:
            scheduled_at = task.scheduled_at or started_at
            self.stats.latencies.append(max(0.0, started_at - scheduled_at))
            await self.t.move(
                task, RUNNING, pid=pid, started_at=started_at, attempts=task.attempts + 1
            )

        def output(stream: str, data: bytes) -> None:
            self.logs.write(task.task_id, stream, data)

        if dispatch.node_id == self.membership.node_id:
            return LocalExecution(task, self.slots, started, output, self.jail)
        member = self.membership.members[dispatch.node_id]
        target = self.membership.target(member)
        return RemoteExecution(task, self.peers, target, started, output)

    async def _execute(self, dispatch: Dispatch) -> None:
        task, breaker = dispatch.task, self.breakers.get(dispatch.node_id)
        assert dispatch.execution is not None
        try:
            result = await dispatch.execution.run()
        except NodeBusy as exc:
            await self._requeue(task, error=str(exc))
        except DispatchFailed as exc:
            breaker.record_failure()
            log.info("dispatch of %s to %s failed: %s", task.task_id, dispatch.node_id, exc)
            await self._requeue(task, error=str(exc))
        except CommandRejected as exc:
            breaker.record_success()
            await self._end(task, FAILED, error=str(exc))
        except ExecutionLost as exc:
            breaker.record_failure()
            await self._lost(task, dispatch.node_id, str(exc))
        except asyncio.CancelledError:
            if dispatch.lost_reason is None:
                raise
            if dispatch.cancel_requested:
                await self._end(task, CANCELLED, error=dispatch.lost_reason)
            else:
                await self._lost(task, dispatch.node_id, dispatch.lost_reason)
        else:
            breaker.record_success()
            await self._end(task, _state_of(result, dispatch.cancel_requested), result=result)
        finally:
            self.inflight.pop(task.task_id, None)
            self.wake()

    async def _end(
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

    async def _requeue(self, task: Task, error: str) -> None:
        await self.logs.close(task.task_id)
        await self.t.move(task, QUEUED, node_id=None, error=error)
        self.enqueue(task)

    async def _lost(self, task: Task, node_id: str, reason: str) -> None:
        if task.state == SCHEDULED:  # never started: not an attempt, just place it again
            await self._requeue(task, error=reason)
            return
        if task.attempts <= task.retries:
            await self.logs.close(task.task_id)
            excluded = sorted({*task.excluded_nodes, node_id})
            await self.t.move(task, LOST, error=reason)
            await self.t.move(task, QUEUED, node_id=None, excluded_nodes=excluded)
            self.enqueue(task)
            return
        await self._end(task, LOST, error=reason)

    def _mark_lost_on_offline_nodes(self) -> None:
        for dispatch in self.inflight.values():
            if dispatch.node_id == self.membership.node_id or dispatch.lost_reason:
                continue
            if (
                not self._still_member(dispatch.node_id)
                or self.membership.state_of(dispatch.node_id) == "offline"
            ):
                dispatch.lost_reason = f"node {dispatch.node_id} went offline"
                if dispatch.job is not None:
                    dispatch.job.cancel()

    async def cancel(self, task: Task) -> None:
        if task.task_id in self.queue:
            self.queue.pop(task.task_id)
            await self._end(task, CANCELLED, error="cancelled before it started")
            return
        dispatch = self.inflight.get(task.task_id)
        if dispatch is None:
            return
        dispatch.cancel_requested = True
        if dispatch.execution is not None and not await dispatch.execution.cancel():
            # The node could not be told: end our stream to it, which makes it kill the
            # command, and record the cancellation now.
            dispatch.lost_reason = f"cancelled; node {dispatch.node_id} did not answer"
            if dispatch.job is not None:
                dispatch.job.cancel()


def _state_of(result: RunResult, cancel_requested: bool) -> str:
    if result.timed_out:
        return TIMED_OUT
    if result.cancelled or cancel_requested:
        return CANCELLED
    return SUCCEEDED if result.exit_code == 0 else FAILED
