"""task.run: a command through the cluster's scheduler, followed to its end.

The task is bounded by the step's deadline twice: it is submitted with the time left as its
own timeout, and a step cancelled by its timeout cancels the task. A flow written on another
member may not run commands on this node while `remote_exec` is off here: a task for this
node is refused, and one for any node is placed on another member that runs commands for
others (the API cannot exclude a node from the scheduler's choice).
"""

from __future__ import annotations

import math
from contextlib import aclosing
from typing import Any

import anyio

from agent.client import AgentClient, ApiError, ClientError, TaskDetail
from agent.core.subsystem import Context
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.actions.bounds import OUTPUT_BUDGET, params_of, reported, tail_fitting, time_left
from agent.flows.actions.params import TaskRunParams
from agent.flows.clock import Clock

FINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out", "lost"})
POLL_FIRST_S, POLL_MAX_S = 0.2, 2.0
CANCEL_WITHIN_S = 5.0
MAX_TASK_TIMEOUT_S = 7 * 86400.0
STREAM_BUDGET = OUTPUT_BUDGET // 2 - 1024


class TaskRun:
    name = "task.run"

    def __init__(self, ctx: Context, client: AgentClient, clock: Clock) -> None:
        self.ctx, self.client, self.clock = ctx, client, clock

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, TaskRunParams)
        node = self._node(params.node, call.foreign)
        left = time_left(call, self.clock)
        timeout_s = None if left is None else min(MAX_TASK_TIMEOUT_S, max(1.0, math.ceil(left)))
        with reported("the task could not be submitted"):
            task = await self.client.submit_task(
                params.command, node=node, timeout_s=timeout_s, env=params.env, cwd=params.cwd
            )
        call.log(f"task {task.task_id} submitted" + (f" for node {node}" if node else ""))
        try:
            await self._follow(task.task_id, call)
            with reported(f"task {task.task_id} could not be read"):
                detail = await self.client.task(task.task_id)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_WITHIN_S):
                await self._cancel(task.task_id, call)
            raise
        return _finished(detail, params.allow_failure)

    def _node(self, asked: str, foreign: bool) -> str | None:
        """The node id to submit for (None: the scheduler chooses)."""
        cluster, self_id = self.ctx.cluster, self.ctx.identity.node_id
        shell_closed = foreign and not self.ctx.settings.remote_exec
        if asked == "any":
            if not shell_closed:
                return None
            others = [
                m
                for m in cluster.members()
                if not m.is_self and m.online and m.capabilities.remote_exec is True
            ]
            if not others:
                raise StepFailed(
                    "this flow was written on another member and this node does not run "
                    "commands for others (remote_exec off); no other online member does either"
                )
            return min(others, key=lambda m: m.node_id).node_id
        node_id = self_id if asked == "local" else _resolve(self.ctx, asked)
        if shell_closed and node_id == self_id:
            raise StepFailed(
                "this flow was written on another member, and this node does not run commands "
                "for others (remote_exec off): give another node, or turn remote_exec on here"
            )
        return node_id

    async def _follow(self, task_id: str, call: StepCall) -> None:
        """Until the task ends: its log stream (each line logged), or polling it."""
        try:
            async with aclosing(self.client.task_logs(task_id)) as events:
                async for event in events:
                    if event.stream == "end":
                        return
                    for line in event.text.splitlines():
                        call.log(f"{event.stream}: {line}")
        except ApiError as exc:
            if exc.code == "TASK_NOT_FOUND":
                raise StepFailed(f"task {task_id} is gone: {exc.message}") from None
        except ClientError:
            pass  # the stream broke off: polling finds the end
        delay = POLL_FIRST_S
        while True:
            with reported(f"task {task_id} could not be read"):
                view = await self.client.task(task_id)
            if view.state in FINAL:
                return
            await anyio.sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)

    async def _cancel(self, task_id: str, call: StepCall) -> None:
        try:
            await self.client.cancel_task(task_id)
            call.log(f"task {task_id} cancelled")
        except ClientError as exc:
            call.log(f"task {task_id} could not be cancelled: {exc}")


def _resolve(ctx: Context, asked: str) -> str:
    members = ctx.cluster.members()
    if any(m.node_id == asked for m in members):
        return asked
    named = [m.node_id for m in members if m.name == asked]
    if len(named) == 1:
        return named[0]
    if named:
        raise StepFailed(f"{len(named)} members are named {asked!r}: give the node id")
    raise StepFailed(f"no member {asked!r} in this cluster (a node id or name, local or any)")


def _finished(detail: TaskDetail, allow_failure: bool) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "task_id": detail.task_id,
        "node_id": detail.node_id,
        "exit_code": detail.exit_code,
        "stdout": tail_fitting(detail.stdout, STREAM_BUDGET),
        "stderr": tail_fitting(detail.stderr, STREAM_BUDGET),
        "state": detail.state,
    }
    if detail.state == "succeeded":
        return outputs
    if detail.state == "failed" and detail.exit_code is not None:
        if allow_failure:
            return outputs
        raise StepFailed(f"the command exited with {detail.exit_code}", outputs)
    why = f": {detail.error}" if detail.error else ""
    raise StepFailed(f"task {detail.task_id} ended {detail.state}{why}", outputs)
