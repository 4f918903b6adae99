"""An in-process mcp node for tests: the real subsystem (store, credential file,
supervisors, routes) on a real SQLite database, served over ASGI, alone in its cluster."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette

from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.errors import EXCEPTION_HANDLERS
from agent.core.metrics import Metrics
from agent.core.subsystem import Context
from agent.mcp.backoff import Backoff
from agent.mcp.subsystem import McpSubsystem
from agent.peer.identity import load_or_create_identity
from agent.settings import Settings
from tests.fakes.mcp_servers import SERVER
from tests.harness import async_wait_until
from tests.memory.kit import StubCluster
from tests.wire_check import checked

FAST_BACKOFF = Backoff(first=0.05, cap=0.4, reset_after=60.0)


def fake_server(*flags: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "type": "stdio",
        "command": sys.executable,
        "args": [str(SERVER), *flags],
        "env": env or {},
    }


@dataclass
class McpNode:
    mcp: McpSubsystem
    bus: EventBus
    http: httpx.AsyncClient
    home: Path

    def events(self, prefix: str = "mcp") -> list[tuple[str, dict[str, Any]]]:
        return [(e.topic, e.data) for e in self.bus.recent([prefix], limit=10_000)]

    def runtime_pgid(self, name: str) -> int | None:
        runtime = self.mcp.service.runtimes.get(name)
        return None if runtime is None else runtime.pgid


@asynccontextmanager
async def mcp_node(home: Path, **settings: Any) -> AsyncIterator[McpNode]:
    await anyio.Path(home).mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {"mcp_start_timeout": 20.0, "mcp_call_timeout": 20.0, **settings}
    ctx = Context(
        settings=Settings(home=home, mdns=False, **values),
        db=Database(home / "fabric.db"),
        bus=EventBus(),
        metrics=Metrics(),
        identity=load_or_create_identity(home),
        version="test",
    )
    ctx.provide_cluster(StubCluster(node_id=ctx.identity.node_id))
    mcp = McpSubsystem(ctx, backoff=FAST_BACKOFF)
    app = checked(Starlette(routes=mcp.routes(), exception_handlers=dict(EXCEPTION_HANDLERS)))
    app.state.settings = ctx.settings
    ready, finish = anyio.Event(), anyio.Event()

    async def host() -> None:
        # The task group lives in a task of its own: a module-scoped fixture's setup and
        # teardown run in different tasks, and a task group must be exited where it began.
        await ctx.db.open()
        try:
            async with anyio.create_task_group() as group:
                ctx.task_group = group
                await mcp.start()
                ready.set()
                await finish.wait()
                with anyio.CancelScope(shield=True):
                    await ctx.jobs.cancel("mcp")
                    await mcp.stop()
                group.cancel_scope.cancel()
        finally:
            await ctx.db.close()

    task = asyncio.create_task(host())
    await async_wait_until(lambda: ready.is_set() or task.done(), 20, "mcp to start")
    if task.done():
        task.result()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", timeout=60
        ) as http:
            yield McpNode(mcp, ctx.bus, http, home)
    finally:
        finish.set()
        await asyncio.wait_for(task, 30)
