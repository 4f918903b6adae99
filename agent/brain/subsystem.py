"""The brain subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

import logging
import time

import anyio
from starlette.routing import BaseRoute

from agent.brain.cluster import ClusterSearch
from agent.brain.embedder import SentenceEmbedder
from agent.brain.holder import IndexHolder
from agent.brain.indexer import Indexer
from agent.brain.peer_routes import build_peer_routes
from agent.brain.routes import build_routes
from agent.brain.search import LocalSearch
from agent.brain.service import BrainService
from agent.brain.store import BrainStore
from agent.brain.watch import Watcher
from agent.brain.work import WorkQueue
from agent.core.subsystem import Context

log = logging.getLogger("openfabric.brain")
# The model's weights go back after this long without encoding anything.
MODEL_IDLE_S = 600.0
BACKLOG_REPORT_S = 1.0


class BrainSubsystem:
    name = "brain"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        folder = ctx.settings.home / "brain"
        self.store = BrainStore(ctx.db)
        self.holder = IndexHolder(folder, self.store, ctx.db.path)
        self.embedder = SentenceEmbedder(ctx.settings.brain_model)
        self.queue = WorkQueue()
        self.service: BrainService
        self.indexer = Indexer(
            self.store,
            self.holder,
            self.embedder,
            ctx.bus,
            self.queue,
            lambda: self.service.sources(),
            ctx.settings.brain_max_file_bytes,
            [str(ctx.settings.home.resolve())],
        )
        self.watcher = Watcher(self.queue, lambda: self.service.sources())
        local = LocalSearch(self.store, self.holder, self.embedder, self._identity)
        self.service = BrainService(
            ctx,
            self.store,
            self.holder,
            self.embedder,
            self.queue,
            self.indexer,
            self.watcher,
            ClusterSearch(local, ctx.cluster, ctx.peers),
        )
        ctx.provide_knowledge(self.service)
        ctx.provide_encoder(self.embedder)

    def _identity(self) -> tuple[str, str]:
        me = self.ctx.cluster.member(self.ctx.identity.node_id)
        return self.ctx.identity.node_id, me.name if me else self.ctx.identity.node_id

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service)

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.service)

    async def start(self) -> None:
        await self.store.migrate()
        await self.service.load_sources()
        if self.service.problem is not None:
            if self.service.sources():
                log.warning("brain sources are not indexed: %s", self.service.problem)
            self.holder.ready.set()
            return
        await self.service.check_model()
        self.ctx.spawn("brain.index", self._run)
        self.ctx.spawn("brain.model", self._unload_when_idle)
        self.ctx.spawn("brain.backlog", self._report_backlog)

    async def _run(self) -> None:
        await self.holder.open()
        for source in self.service.sources():
            self.queue.put(source)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.indexer.run)
            tg.start_soon(self.watcher.run)

    async def _report_backlog(self) -> None:
        # Heartbeats carry it to every member, for Pulse; once per beat is often enough.
        while True:
            self.ctx.capabilities.brain_backlog = len(self.queue)
            await anyio.sleep(BACKLOG_REPORT_S)

    async def _unload_when_idle(self) -> None:
        while True:
            await anyio.sleep(MODEL_IDLE_S / 4)
            idle = time.monotonic() - self.embedder.last_used
            if self.embedder.loaded and idle > MODEL_IDLE_S:
                self.embedder.unload()
                log.info("embedding model unloaded after %.0f s unused", idle)

    async def stop(self) -> None:
        await self.holder.settle()


def create(ctx: Context) -> BrainSubsystem:
    return BrainSubsystem(ctx)
