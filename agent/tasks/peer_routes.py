"""The executor side of remote tasks: members ask this node to run commands.

`POST /peer/tasks/exec` runs the command within this node's task slots and streams NDJSON
events (see `execution`). When the caller goes away before the command ends, the command is
killed: nobody would be left to report its result to. `POST /peer/tasks/{task_id}/cancel`
cancels a command running here for that caller. A node with `remote_exec` off answers 403
REMOTE_EXEC_DISABLED.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from agent.core.errors import Forbidden, NotFound
from agent.core.http import json_response, read_json
from agent.core.subsystem import Context
from agent.peer.listener import peer_node
from agent.tasks.containment import TaskJail
from agent.tasks.runner import ProcessRunner, RunError, RunResult, RunSpec
from agent.tasks.slots import Slots
from agent.tasks.store import TaskStore


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

    async def stream(self, caller: str, req: ExecRequest) -> AsyncIterator[bytes]:
        events: asyncio.Queue[bytes | None] = asyncio.Queue()

        def sink(stream: str, data: bytes) -> None:
            payload = {"event": "output", "stream": stream, "data": base64.b64encode(data).decode()}
            events.put_nowait(_line(payload))

        key = (caller, req.task_id)
        # Never queue here: a member whose view of our load is stale is told at once, and
        # places the task again (its breaker does not count this).
        if not await self.slots.try_take():
            yield _line({"event": "busy"})
            return
        try:
            runner = ProcessRunner(
                RunSpec(
                    command=req.command, env=req.env or None, cwd=req.cwd, timeout_s=req.timeout_s
                ),
                sink,
                jail=self.jail,
            )
            try:
                pid = await runner.start()
            except RunError as exc:
                yield _line({"event": "rejected", "message": str(exc)})
                return
            self.running[key] = runner
            started_at = time.time()
            await self.store.add_remote_run(pid, caller, req.task_id, started_at)

            async def finish() -> RunResult:
                # All output reaches the sink before wait() returns, so the end marker
                # follows the last chunk.
                try:
                    return await runner.wait()
                finally:
                    events.put_nowait(None)

            waiter = asyncio.ensure_future(finish())
            try:
                yield _line({"event": "started", "pid": pid, "started_at": started_at})
                while (item := await events.get()) is not None:
                    yield item
                result = waiter.result()
                yield _line({"event": "exit", "result": dataclasses.asdict(result)})
            finally:
                self.running.pop(key, None)
                if not waiter.done():
                    # The caller went away: nobody is left to report to, so stop the command.
                    await asyncio.shield(runner.cancel())
                    await asyncio.shield(waiter)
                await asyncio.shield(self.store.remove_remote_run(pid))
        finally:
            self.slots.give_back()

    async def cancel(self, caller: str, task_id: str) -> None:
        runner = self.running.get((caller, task_id))
        if runner is None:
            raise NotFound(f"no task {task_id} of yours is running here", code="TASK_NOT_FOUND")
        await runner.cancel()


def build_peer_routes(ctx: Context, runs: RemoteRuns) -> list[BaseRoute]:
    async def execute(request: Request) -> Response:
        if not ctx.settings.remote_exec:
            raise Forbidden(
                "this node does not run commands for other members", code="REMOTE_EXEC_DISABLED"
            )
        req = await read_json(request, ExecRequest)
        return StreamingResponse(
            runs.stream(peer_node(request), req), media_type="application/x-ndjson"
        )

    async def cancel(request: Request) -> Response:
        await runs.cancel(peer_node(request), request.path_params["task_id"])
        return json_response({"cancelled": True})

    return [
        Route("/peer/tasks/exec", execute, methods=["POST"]),
        Route("/peer/tasks/{task_id}/cancel", cancel, methods=["POST"]),
    ]
