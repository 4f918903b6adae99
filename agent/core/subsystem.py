"""What every subsystem is, and what it is given.

A subsystem's constructor only stores its dependencies. `start()` runs inside the lifespan
and may open files, run migrations and spawn background tasks with `ctx.spawn` (they live in
the task group the lifespan owns and are cancelled at shutdown). `stop()` runs in reverse
start order and must return promptly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import anyio.abc
from starlette.routing import BaseRoute

from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.metrics import Metrics
from agent.peer.identity import Identity
from agent.settings import Settings

log = logging.getLogger("openfabric")


class Subsystem(Protocol):
    name: str

    def routes(self) -> list[BaseRoute]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class ServesPeers(Protocol):
    """A subsystem that also answers other members on the peer listener."""

    def peer_routes(self) -> list[BaseRoute]: ...


@dataclass
class Context:
    settings: Settings
    db: Database
    bus: EventBus
    metrics: Metrics
    identity: Identity
    version: str
    clock: Callable[[], float] = time.time
    started_at: float = field(default_factory=time.time)
    task_group: anyio.abc.TaskGroup | None = None
    # What this node offers the cluster (e.g. remote_exec, max_tasks); subsystems fill it in
    # and heartbeats carry it to every member.
    capabilities: dict[str, Any] = field(default_factory=dict)

    def spawn(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Run `job` in the background until shutdown; a crash is logged, not fatal."""
        if self.task_group is None:
            raise RuntimeError("background tasks can only start inside the agent's lifespan")

        async def guarded() -> None:
            try:
                await job()
            except anyio.get_cancelled_exc_class():
                raise
            except Exception:
                log.exception("background task %s failed", name)

        self.task_group.start_soon(guarded, name=name)
