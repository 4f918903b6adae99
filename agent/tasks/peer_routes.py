"""The executor side of remote tasks: members ask this node to run commands.

`POST /peer/tasks/exec` runs the command within this node's task slots and streams NDJSON
events (see `execution`). When the caller goes away before the command ends, the command is
killed: nobody would be left to report its result to. `POST /peer/tasks/{task_id}/cancel`
cancels a command running here for that caller. A node with `remote_exec` off answers 403
REMOTE_EXEC_DISABLED.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from agent.core.errors import Forbidden, NotFound
from agent.core.http import json_response, read_json
from agent.core.subsystem import Context
from agent.peer.listener import peer_node
from agent.tasks.containment import TaskJail
from agent.tasks.runner import ProcessRunner, RunError, RunSpec
from agent.tasks.slots import Slots
from agent.tasks.store import TaskStore

Emit = Callable[[bytes], Awaitable[None]]


class ExecRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    task_id: str
    command: str
    env: dict[str, str] = {}
    cwd: str | None = None
    timeout_s: float | None = None


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


class RemoteRuns:
    """Commands this node runs for other members, by (caller, task id)."""

    def __init__(
        self, ctx: Context, slots: Slots, store: TaskStore, jail: TaskJail | None = None
    ) -> None:
        self.ctx = ctx
        self.slots = slots
        self.jail = jail
        # Recorded so that commands outliving a killed agent are stopped when it restarts.
        self.store = store
        self.running: dict[tuple[str, str], ProcessRunner] = {}

    async def execute(self, caller: str, req: ExecRequest, emit: Emit) -> None:
        """Run the command, handing each event line to `emit`; cancelling this kills it."""
        # Never queue here: a member whose view of our load is stale is told at once, and
        # places the task again (its breaker does not count this).
        if not await self.slots.try_take():
            await emit(_line({"event": "busy"}))
            return
        try:
            await self._run(caller, req, emit)
        finally:
            self.slots.give_back()

    async def _run(self, caller: str, req: ExecRequest, emit: Emit) -> None:
        # Unbounded: the runner's pumps must never block on a slow caller while the command
        # is being ended; the peer channel's flow control bounds it in practice.
        send, receive = anyio.create_memory_object_stream[bytes](math.inf)

        def sink(stream: str, data: bytes) -> None:
            payload = {"event": "output", "stream": stream, "data": base64.b64encode(data).decode()}
            send.send_nowait(_line(payload))

        spec = RunSpec(
            command=req.command, env=req.env or None, cwd=req.cwd, timeout_s=req.timeout_s
        )
        runner = ProcessRunner(spec, sink, jail=self.jail)
        try:
            pid = await runner.start()
        except RunError as exc:
            await emit(_line({"event": "rejected", "message": str(exc)}))
            return
        key = (caller, req.task_id)
        self.running[key] = runner
        try:
            started_at = time.time()
            await self.store.add_remote_run(pid, caller, req.task_id, started_at)
            await emit(_line({"event": "started", "pid": pid, "started_at": started_at}))

            async def forward() -> None:
                async with receive:
                    async for item in receive:
                        await emit(item)

            async with anyio.create_task_group() as group:
                group.start_soon(forward, name="tasks.remote.forward")
                # All output reaches the sink before wait() returns, so closing the stream
                # here lets the last chunk through before the end marker.
                with send:
                    result = await runner.wait()
            await emit(_line({"event": "exit", "result": dataclasses.asdict(result)}))
        finally:
            self.running.pop(key, None)
            with anyio.CancelScope(shield=True):
                # Cancelled here means the caller went away: nobody is left to report to, so
                # the command is stopped (wait() did that on its way out), and forgotten.
                await runner.cancel()
                await self.store.remove_remote_run(pid)

    async def cancel(self, caller: str, task_id: str) -> None:
        runner = self.running.get((caller, task_id))
        if runner is None:
            raise NotFound(f"no task {task_id} of yours is running here", code="TASK_NOT_FOUND")
        await runner.cancel()


class ExecStream(Response):
    """The NDJSON answer of one remote run. The run lives in this response's own task
    group, next to a watcher that ends it when the caller disconnects."""

    media_type = "application/x-ndjson"

    def __init__(self, runs: RemoteRuns, caller: str, req: ExecRequest) -> None:
        self.runs, self.caller, self.req = runs, caller, req
        self.status_code = 200
        self.background = None
        self.init_headers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        await send(start)

        async def emit(line: bytes) -> None:
            await send({"type": "http.response.body", "body": line, "more_body": True})

        async def until_disconnect(scope: anyio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(until_disconnect, group.cancel_scope, name="tasks.remote.watch")
            await self.runs.execute(self.caller, self.req, emit)
            group.cancel_scope.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def build_peer_routes(ctx: Context, runs: RemoteRuns) -> list[BaseRoute]:
    async def execute(request: Request) -> Response:
        if not ctx.settings.remote_exec:
            raise Forbidden(
                "this node does not run commands for other members", code="REMOTE_EXEC_DISABLED"
            )
        req = await read_json(request, ExecRequest)
        return ExecStream(runs, peer_node(request), req)

    async def cancel(request: Request) -> Response:
        await runs.cancel(peer_node(request), request.path_params["task_id"])
        return json_response({"cancelled": True})

    return [
        Route("/peer/tasks/exec", execute, methods=["POST"]),
        Route("/peer/tasks/{task_id}/cancel", cancel, methods=["POST"]),
    ]
