"""The storage subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

import anyio.to_thread
from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.storage.chunks import ChunkStore
from agent.storage.gc import Collector
from agent.storage.healing import Healer
from agent.storage.peer_routes import build_peer_routes
from agent.storage.pins import Pins
from agent.storage.replication import Replicator
from agent.storage.routes import build_routes
from agent.storage.service import StorageService
from agent.storage.store import StorageStore


class StorageSubsystem:
    name = "storage"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        quota = ctx.settings.storage_quota or None
        self.chunks = ChunkStore(ctx.settings.home / "storage" / "chunks", quota)
        self.store = StorageStore(ctx.db)
        self.replicator = Replicator(ctx, self.chunks, self.store)
        self.pins = Pins(ttl=ctx.settings.storage_gc_grace)
        self.service = StorageService(ctx, self.store, self.chunks, self.replicator, self.pins)
        self.collector = Collector(
            ctx, self.store, self.chunks, self.pins, lambda: self.replicator.me
        )
        self.healer = Healer(ctx, self.store, self.service, self.replicator, self.collector)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service)

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.service, self.replicator, self.pins)

    async def start(self) -> None:
        await self.store.migrate()
        await anyio.to_thread.run_sync(self.chunks.open)
        self.service.refresh_capacity()
        self.ctx.spawn("storage.maintenance", self.healer.run)

    async def stop(self) -> None:
        return None


def create(ctx: Context) -> StorageSubsystem:
    return StorageSubsystem(ctx)
