"""What every subsystem is, and what it is given.

A subsystem's constructor only stores its dependencies. `start()` runs inside the lifespan
and may open files, run migrations and spawn background tasks with `ctx.spawn` (they live in
the task group the lifespan owns). At shutdown, in reverse start order, each subsystem's tasks
are cancelled and awaited, then its `stop()` runs; it must return promptly.
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
from agent.core.capabilities import Capabilities
from agent.core.cluster import ClusterView, TelemetryReadings
from agent.core.db import Database
from agent.core.embedding import TextEncoder
from agent.core.jobs import Jobs
from agent.core.knowledge import Knowledge
from agent.core.metrics import Metrics
from agent.core.notices import Notices
from agent.core.recollection import Recollection
from agent.core.toolbox import Toolbox
from agent.peer.client import PeerClient
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
    capabilities: Capabilities = field(default_factory=Capabilities)
    # Signed requests to other members; closed by the lifespan after every subsystem stops.
    peers: PeerClient = field(init=False)
    _cluster: ClusterView | None = field(default=None, repr=False)
    _telemetry: TelemetryReadings | None = field(default=None, repr=False)
    _knowledge: Knowledge | None = field(default=None, repr=False)
    _encoder: TextEncoder | None = field(default=None, repr=False)
    _memory: Recollection | None = field(default=None, repr=False)
    _tools: Toolbox | None = field(default=None, repr=False)
    _notices: Notices | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.peers = PeerClient(self.identity)

    @property
    def cluster(self) -> ClusterView:
        """The read-only cluster view; the cluster subsystem provides it when created."""
        if self._cluster is None:
            raise RuntimeError(
                "the cluster view is provided by the cluster subsystem: create it first"
            )
        return self._cluster

    def provide_cluster(self, view: ClusterView) -> None:
        self._cluster = view

    @property
    def telemetry(self) -> TelemetryReadings:
        """This node's telemetry readings; the telemetry subsystem provides them when created."""
        if self._telemetry is None:
            raise RuntimeError(
                "telemetry readings are provided by the telemetry subsystem: create it first"
            )
        return self._telemetry

    def provide_telemetry(self, readings: TelemetryReadings) -> None:
        self._telemetry = readings

    @property
    def knowledge(self) -> Knowledge | None:
        """Retrieval over the cluster's documents; None when no brain subsystem runs."""
        return self._knowledge

    def provide_knowledge(self, knowledge: Knowledge) -> None:
        self._knowledge = knowledge

    @property
    def encoder(self) -> TextEncoder | None:
        """The agent's text encoder; None when no brain subsystem runs."""
        return self._encoder

    def provide_encoder(self, encoder: TextEncoder) -> None:
        self._encoder = encoder

    @property
    def memory(self) -> Recollection | None:
        """The cluster's memory of facts; None when no memory subsystem runs."""
        return self._memory

    def provide_memory(self, memory: Recollection) -> None:
        self._memory = memory

    @property
    def tools(self) -> Toolbox | None:
        """The cluster's MCP tools; None when no mcp subsystem runs."""
        return self._tools

    def provide_tools(self, tools: Toolbox) -> None:
        self._tools = tools

    @property
    def notices(self) -> Notices | None:
        """The cluster's insight cards, for notices; None when no pulse subsystem runs."""
        return self._notices

    def provide_notices(self, notices: Notices) -> None:
        self._notices = notices

    jobs: Jobs = field(default_factory=Jobs, repr=False)

    def spawn(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Run `job` in the background until its owner stops; a crash is logged, not fatal.

        `name` is `<subsystem>.<job>`: the jobs of a subsystem are cancelled and awaited just
        before its `stop()`, so a job never outlives what that `stop()` closes."""
        if self.task_group is None:
            raise RuntimeError("background tasks can only start inside the agent's lifespan")
        self.jobs.start(self.task_group, name, job)
