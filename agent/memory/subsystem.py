"""The memory subsystem object and `create(ctx)`; see the package docstring.

`ctx.encoder` is the brain's (None without a brain): memory is created after the brain. It
provides itself to the chat as `ctx.memory`.
"""

from __future__ import annotations

import anyio
from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.memory.book import FactBook
from agent.memory.index import FactIndex
from agent.memory.ledger import Ledger
from agent.memory.merge import Merger
from agent.memory.peer_routes import build_peer_routes
from agent.memory.record import Stamper
from agent.memory.replication import Replicator
from agent.memory.routes import build_routes
from agent.memory.service import MemoryService
from agent.memory.store import MemoryStore


class MemorySubsystem:
    name = "memory"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = MemoryStore(ctx.db)
        self.index = FactIndex(ctx.encoder, self.store, anyio.Lock())
        self.book = FactBook(
            self.store, Ledger(), self.index, ctx.bus, Stamper(ctx.identity.node_id, ctx.clock)
        )
        refused = ctx.metrics.counter(
            "memory_versions_refused",
            "Fact versions from members ignored as implausible (future stamp, unknown "
            "writer) or because memory is full",
            ["reason"],
        )
        self.merger = Merger(self.book, ctx.cluster, ctx.clock, refused)
        self.replicator = Replicator(self.book, self.merger, ctx.cluster, ctx.peers)
        self.service = MemoryService(self.book)
        ctx.metrics.gauge_callback(
            "memory_facts", "Facts held, history included", lambda: float(self.book.ledger.live)
        )
        ctx.provide_memory(self.service)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service)

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.replicator)

    async def start(self) -> None:
        await self.store.migrate()
        await self.book.load()
        self.ctx.cluster.on_change(self._cluster_changed)
        self.ctx.spawn("memory.sync", self.replicator.run)
        self.ctx.spawn("memory.push", self.replicator.run_pushes)
        if self.index.problem() is None:
            self.ctx.spawn("memory.embed", self.index.run)

    async def _cluster_changed(self) -> None:
        self.replicator.sync_soon()

    async def stop(self) -> None:
        return None


def create(ctx: Context) -> MemorySubsystem:
    return MemorySubsystem(ctx)
