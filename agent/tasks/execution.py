"""Running one dispatched task, here or on another member.

Both kinds answer the same way: `run()` returns the process's `RunResult`, or raises
`DispatchFailed` when the command never started for reasons of the node or the network
(these count against the node's circuit breaker), or `ExecutionLost` when it started but its
node could no longer be followed (the task becomes `lost`). A command that cannot start for
reasons of its own (a missing cwd) is a `RunResult`-less `CommandRejected`: the task fails.

A remote run is one streamed peer request, `POST /peer/tasks/exec`, answered with NDJSON
events: `started` {pid, started_at}, `output` {stream, data (base64)}, then `exit`
{RunResult fields} or `rejected` {message}. If that request ends early, the executor kills the
command, so a task is never left running unobserved.
"""

from __future__ import annotations

import base64
import inspect
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable
from agent.tasks.containment import TaskJail
from agent.tasks.runner import ProcessRunner, RunError, RunResult, RunSpec
from agent.tasks.slots import Slots
from agent.tasks.store import Task

Started = Callable[[int, float], Any]
Output = Callable[[str, bytes], None]


class DispatchFailed(Exception):
    """The node could not be asked to run the command."""


class NodeBusy(DispatchFailed):
    """The node's task slots were all taken (its load, as last heard, was stale)."""


class ExecutionLost(Exception):
    """The command started, but its node stopped answering for it."""


class CommandRejected(Exception):
    """The node refused the command itself (e.g. its cwd does not exist)."""


class Execution(Protocol):
    async def run(self) -> RunResult: ...

    async def cancel(self) -> bool:
        """Ask for the command to stop; False when the node could not be asked."""
        ...


def spec_of(task: Task) -> RunSpec:
    return RunSpec(
        command=task.command, env=task.env or None, cwd=task.cwd, timeout_s=task.timeout_s
    )


class LocalExecution:
    """Runs on this node, within the node's task slots (shared with remote callers)."""

    def __init__(
        self,
        task: Task,
        slots: Slots,
        started: Started,
        output: Output,
        jail: TaskJail | None = None,
    ) -> None:
        self.task = task
        self.slots = slots
        self.started = started
        self.output = output
        self.jail = jail
        self.runner: ProcessRunner | None = None
        self._cancelled = False

    async def run(self) -> RunResult:
        async with self.slots:
            if self._cancelled:  # while it waited for a slot
                raise CommandRejected("cancelled before it started")
            self.runner = ProcessRunner(spec_of(self.task), self.output, jail=self.jail)
            try:
                pid = await self.runner.start()
            except RunError as exc:
                raise CommandRejected(str(exc)) from None
            except OSError as exc:
                raise DispatchFailed(f"could not start a process: {exc}") from None
            started = self.started(pid, time.time())
            if inspect.isawaitable(started):
                await started
            return await self.runner.wait()

    async def cancel(self) -> bool:
        self._cancelled = True
        if self.runner is not None:
            await self.runner.cancel()
        return True


class RemoteExecution:
    def __init__(
        self, task: Task, peers: PeerClient, target: PeerTarget, started: Started, output: Output
    ) -> None:
        self.task = task
        self.peers = peers
        self.target = target
        self.started = started
        self.output = output
        self._began = False

    def request(self) -> dict[str, Any]:
        t = self.task
        return {
            "task_id": t.task_id,
            "command": t.command,
            "env": t.env,
            "cwd": t.cwd,
            "timeout_s": t.timeout_s,
        }

    async def run(self) -> RunResult:
        try:
            async with self.peers.stream(
                self.target, "POST", "/peer/tasks/exec", json_body=self.request(), timeout=None
            ) as response:
                if response.status_code != 200:
                    body = (await response.aread()).decode(errors="replace")[:500]
                    raise DispatchFailed(f"node answered {response.status_code}: {body}")
                async for line in response.aiter_lines():
                    result = await self._event(json.loads(line)) if line else None
                    if result is not None:
                        return result
        except (PeerUnreachable, httpx.TransportError, OSError, ValueError) as exc:
            if self._began:
                raise ExecutionLost(f"lost contact with {self.target.node_id}: {exc}") from None
            raise DispatchFailed(f"could not reach {self.target.node_id}: {exc}") from None
        if self._began:
            raise ExecutionLost(f"{self.target.node_id} ended the stream without a result")
        raise DispatchFailed(f"{self.target.node_id} ended the stream before starting")

    async def _event(self, event: dict[str, Any]) -> RunResult | None:
        kind = event.get("event")
        if kind == "busy":
            raise NodeBusy(f"{self.target.node_id} has no free task slot")
        if kind == "started":
            self._began = True
            started = self.started(int(event["pid"]), float(event["started_at"]))
            if inspect.isawaitable(started):
                await started
        elif kind == "output":
            self.output(str(event["stream"]), base64.b64decode(event["data"]))
        elif kind == "rejected":
            raise CommandRejected(str(event.get("message", "the node refused the command")))
        elif kind == "exit":
            return RunResult(**event["result"])
        return None

    async def cancel(self) -> bool:
        path = f"/peer/tasks/{self.task.task_id}/cancel"
        try:
            response = await self.peers.request(self.target, "POST", path, timeout=5)
        except PeerUnreachable:
            return False
        return response.status_code in (200, 404)
