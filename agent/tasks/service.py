"""Tasks as the API sees them: submit, inspect, list, cancel, follow, and restart recovery."""

from __future__ import annotations

import logging
import os
import secrets
import signal

import psutil

from agent.core.errors import Conflict, NotFound, Unprocessable
from agent.core.subsystem import Context
from agent.tasks.containment import TaskCgroups
from agent.tasks.logs import TaskLogs
from agent.tasks.models import SchedulerStats, SubmitTask, TaskDetail, TaskPage, TaskQuery, TaskView
from agent.tasks.scheduler import Scheduler, local_limit
from agent.tasks.store import LOST, QUEUED, RUNNING, SCHEDULED, Task, TaskStore
from agent.tasks.transitions import Transitions
from agent.tasks.views import scheduler_stats, task_detail, task_view

log = logging.getLogger("openfabric.tasks")


class TaskService:
    def __init__(
        self,
        ctx: Context,
        store: TaskStore,
        logs: TaskLogs,
        transitions: Transitions,
        scheduler: Scheduler,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.logs = logs
        self.t = transitions
        self.scheduler = scheduler
        self.cluster = ctx.cluster

    async def submit(self, request: SubmitTask) -> TaskView:
        node = request.preferred_node
        if node is not None:
            self._check_preferred(node, request.wait_for_node)
        task = Task(
            task_id="t" + secrets.token_hex(8),
            command=request.command,
            env=dict(request.env),
            cwd=request.cwd,
            timeout_s=request.timeout_s,
            retries=request.retries,
            labels=dict(request.labels),
            preferred_node=node,
            wait_for_node=request.wait_for_node,
            submitted_at=self.ctx.clock(),
        )
        await self.t.move(task, QUEUED)
        self.scheduler.enqueue(task)
        return task_view(task)

    def _check_preferred(self, node: str, wait: bool) -> None:
        member = self.cluster.member(node)
        if member is None:
            raise Unprocessable(
                f"no node {node!r} in this cluster",
                code="UNKNOWN_NODE",
                details={"preferred_node": node},
            )
        if not member.is_self and member.capabilities.remote_exec is False:
            raise Unprocessable(
                f"node {node} does not run commands for other members",
                code="REMOTE_EXEC_DISABLED",
                details={"preferred_node": node},
            )
        if not wait and self.cluster.state_of(node) != "online":
            raise Conflict(
                f"node {node} is {self.cluster.state_of(node)} and the request asked not to wait",
                code="NODE_OFFLINE",
                details={"preferred_node": node},
            )

    async def task(self, task_id: str) -> Task:
        task = (
            self.scheduler.queue.get(task_id)
            or self._inflight(task_id)
            or await self.store.get(task_id)
        )
        if task is None:
            raise NotFound(
                f"no task {task_id!r}", code="TASK_NOT_FOUND", details={"task_id": task_id}
            )
        return task

    def _inflight(self, task_id: str) -> Task | None:
        dispatch = self.scheduler.inflight.get(task_id)
        return dispatch.task if dispatch else None

    async def detail(self, task_id: str, full: bool) -> TaskDetail:
        task = await self.task(task_id)
        # The view first: the task may end while its output is read, and a final state must
        # never come with output read before its last chunks were stored.
        view = task_view(task)
        await self.logs.flush(task_id)
        return task_detail(view, await self.store.output(task_id), full)

    async def page(self, query: TaskQuery) -> TaskPage:
        tasks, total = await self.store.page(
            state=query.status, node=query.node, limit=query.limit, offset=query.offset
        )
        views = [task_view(t) for t in tasks]
        return TaskPage(
            tasks=views, count=len(views), total=total, limit=query.limit, offset=query.offset
        )

    async def cancel(self, task_id: str) -> TaskView:
        task = await self.task(task_id)
        if task.finished:
            raise Conflict(
                f"task {task_id} already ended ({task.state})",
                code="TASK_FINISHED",
                details={"task_id": task_id, "state": task.state},
            )
        await self.scheduler.cancel(task)
        return task_view(task)

    def stats(self) -> SchedulerStats:
        return scheduler_stats(self.scheduler, self.cluster)

    async def recover(self, cgroups: TaskCgroups | None = None) -> None:
        """After a restart: queued tasks wait again; tasks that were dispatched when this
        agent stopped are reported lost (and retried if they may be)."""
        # Supervisors end their task when the agent dies; these catch a killed supervisor.
        if cgroups is not None:
            await cgroups.sweep()
        for pid, started_at in await self.store.take_remote_runs():
            kill_leftover_group(pid, started_at)
        for task in await self.store.in_states((QUEUED,)):
            self.scheduler.enqueue(task)
        for task in await self.store.in_states((SCHEDULED, RUNNING)):
            if task.node_id == self.cluster.node_id and task.pid and task.started_at:
                kill_leftover_group(task.pid, task.started_at)
            reason = "the agent stopped while the task was running"
            if task.state == SCHEDULED or task.attempts <= task.retries:
                if task.state == RUNNING:
                    await self.t.move(task, LOST, error=reason)
                await self.t.move(task, QUEUED, node_id=None, error=reason)
                self.scheduler.enqueue(task)
            else:
                await self.t.finish(task, LOST, error=reason)
        self.ctx.capabilities.remote_exec = self.ctx.settings.remote_exec
        self.ctx.capabilities.max_tasks = local_limit(self.ctx)


def kill_leftover_group(pid: int, started_at: float) -> None:
    """A command may have outlived its agent (kill -9 of the agent): stop its process group,
    but only if that pid is still the process that was started (pids are reused)."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started_at) > 2:
            return
        os.killpg(pid, signal.SIGKILL)
        log.info("stopped leftover process group %s", pid)
    except (psutil.Error, ProcessLookupError, PermissionError):
        return
