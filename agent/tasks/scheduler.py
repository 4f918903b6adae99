"""Placement and dispatch of queued tasks.

Contract:
- Queued tasks are placed in submission order (see `placement`). A task with a preferred node
  goes there only (it waits, queued, while that node is offline or full) until it is lost
  there; others go to the least-loaded eligible node: online, breaker not open, not on hold,
  below its concurrency limit, and for another node, accepting remote commands. Ties favour
  this node (no network hop). A task that waits for another reason than a free slot says why
  in its `state_detail`.
- Every transition is saved and published as `task.<state>` before anything acts on it.
- Dispatch and infrastructure failures (never a command's own exit status) are recorded on
  the node's breaker, and put the node on a short hold (see `holds`), as does a node that
  answers busy; a task whose dispatch failed goes back to the queue.
- A task whose node goes offline, or stops answering, while it runs becomes `lost`; with
  retries left it is queued again, preferring a node it has not been lost on, its preferred
  node included.
- `run()` owns every dispatch, in its task group: cancelling it (the agent stopping) ends them,
  and each records its task lost.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from typing import Any

import anyio
import anyio.abc

from agent.core.cluster import ONLINE
from agent.core.subsystem import Context
from agent.peer.client import PeerClient, PeerTarget
from agent.tasks.breaker import BreakerBoard
from agent.tasks.containment import TaskJail
from agent.tasks.execution import (
    CommandRejected,
    DispatchFailed,
    Execution,
    ExecutionLost,
    LocalExecution,
    RemoteExecution,
)
from agent.tasks.holds import NodeHolds
from agent.tasks.logs import TaskLogs
from agent.tasks.outcomes import STOPPED, Dispatch, Outcome, Outcomes, Stats
from agent.tasks.placement import NO_SLOT, Candidate, pinned_to, ranked, waiting_reason
from agent.tasks.slots import Slots
from agent.tasks.store import CANCELLED, FAILED, RUNNING, SCHEDULED, Task
from agent.tasks.transitions import Transitions

log = logging.getLogger("openfabric.tasks")
TICK_S = 0.25
RECORD_S = 0.5  # how long a dispatch cut short by the agent stopping may take to record it


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
        breakers: BreakerBoard,
        slots: Slots,
        jail: TaskJail | None = None,
    ) -> None:
        self.ctx = ctx
        self.cluster = ctx.cluster
        self.peers: PeerClient = ctx.peers
        self.jail = jail
        self.t = transitions
        self.logs = logs
        self.breakers = breakers
        self.slots = slots
        self.queue: dict[str, Task] = {}
        self.inflight: dict[str, Dispatch] = {}
        self.stats = Stats()
        self.holds = NodeHolds()
        self.outcomes = Outcomes(transitions, logs, self.stats, self.holds, self.enqueue)
        self._wake = anyio.Event()
        self._group: anyio.abc.TaskGroup | None = None
        slots.on_change = self.wake

    def wake(self) -> None:
        self._wake.set()

    def enqueue(self, task: Task) -> None:
        self.queue[task.task_id] = task
        self.wake()

    async def run(self) -> None:
        async with anyio.create_task_group() as group:
            self._group = group
            # Output only comes from dispatches: its flusher lives beside them.
            group.start_soon(self.logs.run, name="tasks.logs")
            while True:
                try:
                    await self._pass()
                except Exception:  # the next pass tries again; the dispatches go on
                    log.exception("placing queued tasks failed")

    async def _pass(self) -> None:
        # Woken by submissions, endings and slots taken or given back; the tick re-checks
        # nodes, breakers and holds, so it is needed only while something could change with
        # time alone (a task waiting or running, a breaker cooling down, a slot taken).
        with anyio.move_on_after(TICK_S if self._time_matters() else math.inf):
            await self._wake.wait()
        self._wake = anyio.Event()  # a wake from here on calls for another pass
        self.ctx.capabilities.tasks_busy = self.slots.busy
        self.ctx.capabilities.breakers_open = self.breakers.open_count()
        self._mark_lost_on_offline_nodes()
        await self._place_queued()

    def _time_matters(self) -> bool:
        return bool(self.queue or self.inflight or self.slots.busy or self.breakers.open_count())

    async def stop(self) -> None:
        # `run()` is cancelled before this, and its dispatches with it: normally none is left.
        for dispatch in self.inflight.values():
            dispatch.lost_reason = STOPPED
            dispatch.scope.cancel()

    # -- placement -------------------------------------------------------------------------

    def running_on(self, node_id: str) -> int:
        """Slots taken on the node: ours as we know them, or as the node last reported
        (which also counts other members' tasks there), whichever is more."""
        ours = sum(1 for d in self.inflight.values() if d.node_id == node_id)
        if node_id == self.cluster.node_id:
            return max(ours, self.slots.busy)
        member = self.cluster.member(node_id)
        reported = member.capabilities.tasks_busy if member else None
        return max(ours, reported) if isinstance(reported, int) else ours

    def limit_of(self, node_id: str) -> int:
        if node_id == self.cluster.node_id:
            return local_limit(self.ctx)
        member = self.cluster.member(node_id)
        value = member.capabilities.max_tasks if member else None
        return int(value) if isinstance(value, int) and value > 0 else 1

    def unready(self, node_id: str) -> str | None:
        """Why the node can take no task now ("is offline"); None when it can."""
        state = self.cluster.state_of(node_id)
        if state != ONLINE:
            return f"is {state}"
        if self.breakers.get(node_id).state == "open":
            return "has its circuit breaker open"
        if self.holds.held(node_id):
            return "just failed or refused a dispatch"
        if self.running_on(node_id) >= self.limit_of(node_id):
            return NO_SLOT
        if node_id == self.cluster.node_id:
            return None
        member = self.cluster.member(node_id)
        if member and member.capabilities.remote_exec is True:
            return None
        return "does not run commands for other members"

    def _load(self, node_id: str) -> tuple[float, int]:
        """Lower is better: task slots in use weigh most, then CPU, then memory in use."""
        member = self.cluster.member(node_id)
        is_self = node_id == self.cluster.node_id
        sample = member.telemetry if member else None
        cpu = memory = 0.0
        if sample:
            try:
                cpu = float(sample["cpu"]["percent"]) / 100
                memory = 1 - sample["memory"]["available"] / sample["memory"]["total"]
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                cpu = memory = 0.0
        busy = self.running_on(node_id) / self.limit_of(node_id)
        return (2 * busy + cpu + memory / 2, 0 if is_self else 1)

    def candidates(self) -> list[Candidate]:
        nodes = []
        for member in self.cluster.members():
            unready = self.unready(member.node_id)
            load = self._load(member.node_id) if unready is None else (0.0, 0)
            nodes.append(Candidate(member.node_id, unready, load))
        return nodes

    def choose(self, task: Task, nodes: list[Candidate] | None = None) -> str | None:
        for node_id in ranked(task, self.candidates() if nodes is None else nodes):
            if self.breakers.get(node_id).allow():
                return node_id
        return None

    async def _place_queued(self) -> None:
        nodes: list[Candidate] | None = None  # recomputed after each dispatch
        full = False
        reasons: dict[tuple[Any, ...], str | None] = {}  # tasks alike wait alike
        for task in list(self.queue.values()):
            pinned = pinned_to(task)
            if pinned is not None and not self._still_member(pinned):
                self.queue.pop(task.task_id, None)
                await self.t.finish(
                    task, FAILED, error="the preferred node is no longer a member of the cluster"
                )
                continue
            if nodes is None:
                nodes, reasons = self.candidates(), {}
                full = all(n.unready == NO_SLOT for n in nodes)
            if full:
                # Every slot is busy: the usual queue, the next task ending wakes us. Only a
                # task that said it waits for something else is told it no longer does.
                if task.state_detail is not None:
                    await self.t.note(task, None)
                continue
            node_id = self.choose(task, nodes)
            if node_id is None:
                key = (task.preferred_node, *task.excluded_nodes)
                if key not in reasons:
                    reasons[key] = waiting_reason(task, nodes)
                if reasons[key] != task.state_detail:
                    await self.t.note(task, reasons[key])
                continue
            self.queue.pop(task.task_id, None)
            await self._dispatch(task, node_id)
            nodes = None

    def _still_member(self, node_id: str) -> bool:
        return self.cluster.member(node_id) is not None

    # -- dispatch --------------------------------------------------------------------------

    async def _dispatch(self, task: Task, node_id: str) -> None:
        dispatch = Dispatch(task, node_id)
        self.inflight[task.task_id] = dispatch
        await self.t.move(
            task, SCHEDULED, node_id=node_id, scheduled_at=self.ctx.clock(), pid=None, error=None
        )
        await self.logs.open(task.task_id)
        dispatch.execution = self._execution(dispatch)
        assert self._group is not None  # only run()'s passes dispatch
        self._group.start_soon(self._execute, dispatch, name=f"tasks.dispatch.{task.task_id}")

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

        if dispatch.node_id == self.cluster.node_id:
            return LocalExecution(task, self.slots, started, output, self.jail)
        member = self.cluster.member(dispatch.node_id)
        # A node that left since it was chosen has no address: the dispatch fails as for
        # an unreachable node.
        target = member.target if member else PeerTarget(dispatch.node_id, (), 0, "")
        return RemoteExecution(task, self.peers, target, started, output)

    async def _execute(self, dispatch: Dispatch) -> None:
        task = dispatch.task
        try:
            try:
                outcome = await self._attempt(dispatch)
            except anyio.get_cancelled_exc_class():
                with anyio.move_on_after(RECORD_S, shield=True):
                    await self.outcomes.lost(task, dispatch.node_id, STOPPED)
                raise
            # Shielded: a transition half recorded would be worse than one recorded late.
            with anyio.CancelScope(shield=True):
                await self.outcomes.settle(dispatch, outcome, self.breakers.get(dispatch.node_id))
        except Exception:
            log.exception("recording the outcome of task %s failed", task.task_id)
        finally:
            self.inflight.pop(task.task_id, None)
            self.wake()

    async def _attempt(self, dispatch: Dispatch) -> Outcome:
        """The run's result, or what ended it; None when it was cut short (`lost_reason`
        says why)."""
        assert dispatch.execution is not None
        with dispatch.scope:
            try:
                return await dispatch.execution.run()
            except (DispatchFailed, CommandRejected, ExecutionLost) as exc:
                return exc
            except Exception as exc:
                log.exception("dispatch of %s to %s broke", dispatch.task.task_id, dispatch.node_id)
                return exc
        return None

    def _mark_lost_on_offline_nodes(self) -> None:
        for dispatch in self.inflight.values():
            if dispatch.node_id == self.cluster.node_id or dispatch.lost_reason:
                continue
            if (
                not self._still_member(dispatch.node_id)
                or self.cluster.state_of(dispatch.node_id) == "offline"
            ):
                dispatch.lost_reason = f"node {dispatch.node_id} went offline"
                dispatch.scope.cancel()

    async def cancel(self, task: Task) -> None:
        if task.task_id in self.queue:
            self.queue.pop(task.task_id)
            await self.outcomes.end(task, CANCELLED, error="cancelled before it started")
            return
        dispatch = self.inflight.get(task.task_id)
        if dispatch is None:
            return
        dispatch.cancel_requested = True
        if dispatch.execution is not None and not await dispatch.execution.cancel():
            # The node could not be told: end our stream to it, which makes it kill the
            # command, and record the cancellation now.
            dispatch.lost_reason = f"cancelled; node {dispatch.node_id} did not answer"
            dispatch.scope.cancel()
