"""Keeping every chunk on enough nodes, and every local chunk intact.

- Heal (every HEAL_EVERY_S): a chunk whose holders that count (members that are online, or
  offline for less than `storage_heal_after`) are fewer than the wanted replicas is copied to
  another member by one holder: the online holder with the lowest node id, so exactly one
  node acts. Holders that left or were evicted stop counting at once.
- Scrub (every `storage_scrub_interval`): every local chunk is re-hashed; a corrupt one is
  replaced from a replica.
- Events: `storage.degraded` when a file has fewer online copies than wanted, `storage.healthy`
  when it has them again, `storage.replicated` for each copy made.
- Reconcile (every pass): this node's holder records are made to match its disk (`gc`).
- Garbage collection (every quarter of `storage_gc_grace`): see `gc.Collector.collect`.
- Freshness (first thing, then every pass): a node that starts or comes back from isolation
  pulls the manifests it missed before reads are answered (see `freshness`).

Replica counts come from `StorageService.holders_of`, so a copy that is gone does not count.
"""

from __future__ import annotations

import asyncio
import logging
import time

import anyio.to_thread

from agent.core.cluster import ONLINE
from agent.core.subsystem import Context
from agent.storage.chunks import ChunkMissing
from agent.storage.events import (
    STORAGE_DEGRADED,
    STORAGE_HEALTHY,
    STORAGE_REPLICATED,
    ChunkReplicated,
    FileHealthChanged,
)
from agent.storage.gc import Collector
from agent.storage.replication import Replicator
from agent.storage.service import StorageService
from agent.storage.store import StorageStore

log = logging.getLogger("openfabric.storage")
HEAL_EVERY_S = 2.0
SYNC_EVERY_S = 5.0


class Healer:
    def __init__(
        self,
        ctx: Context,
        store: StorageStore,
        service: StorageService,
        replicator: Replicator,
        collector: Collector,
    ) -> None:
        self.ctx = ctx
        self.collector = collector
        self.store = store
        self.service = service
        self.replicator = replicator
        self.cluster = ctx.cluster
        self._scrubbed_at = time.monotonic()
        self._gc_at = 0.0
        self._synced_at = 0.0
        self._degraded: set[str] = set()

    def counts(self, node_id: str) -> bool:
        member = self.cluster.member(node_id)
        if member is None:
            return False
        if member.online:
            return True
        silent_for = self.ctx.clock() - member.last_seen if member.last_seen else 0.0
        return silent_for < self.ctx.settings.storage_heal_after

    async def run(self) -> None:
        try:
            # Right away, not after the first pause: reads wait for it.
            await self.service.freshness.current()
        except Exception:
            log.exception("storage manifests could not be brought up to date")
        while True:
            await asyncio.sleep(HEAL_EVERY_S)
            try:
                await self.pass_once()
            except Exception:
                log.exception("storage maintenance pass failed")

    async def pass_once(self) -> None:
        now = time.monotonic()
        # Also when no read comes: a node back from isolation pulls what it missed.
        await self.service.freshness.current()
        self.service.refresh_capacity()
        # Before the sync, so the table this node sends says what its disk holds.
        await self.collector.reconcile()
        if now - self._synced_at > SYNC_EVERY_S:
            self._synced_at = now
            await self.replicator.sync_all()
        await self.forget_departed()
        await self.heal()
        if now - self._scrubbed_at > self.ctx.settings.storage_scrub_interval:
            self._scrubbed_at = now
            await self.scrub()
        if now - self._gc_at > self.ctx.settings.storage_gc_grace / 4:
            self._gc_at = now
            await self.collector.collect()

    async def forget_departed(self) -> None:
        # Holder records of nodes that left or were evicted (or never were members).
        for node_id in {node for _, node in await self.store.all_holders()}:
            if self.cluster.member(node_id) is None:
                await self.store.remove_holder(node_id)

    async def heal(self) -> None:
        me = self.replicator.me
        want = self.service.replicas
        degraded: set[str] = set()
        manifests = await self.store.all(include_deleted=False)
        # One look at every chunk's holders per pass (not a query per file): the pass runs
        # every few seconds, so its cost must not grow with a query per stored file.
        known = await self.service.holders_of(d for m in manifests for d in m.chunks)
        for manifest in manifests:
            holders = {digest: known[digest] for digest in manifest.chunks}
            online_counts = [
                sum(1 for n in nodes if self.cluster.state_of(n) == ONLINE)
                for nodes in holders.values()
            ]
            if any(count < want for count in online_counts):
                degraded.add(manifest.path)
            for digest, nodes in holders.items():
                counting = {n for n in nodes if self.counts(n)}
                online = sorted(n for n in counting if self.cluster.state_of(n) == ONLINE)
                if len(counting) >= want or not online or online[0] != me:
                    continue
                data = await self.service.read_chunk(digest)
                for target in await self.replicator.spread(
                    digest, data, want - len(counting), exclude=set(nodes)
                ):
                    await self.store.add_holders([(digest, target)])
                    known[digest].add(target)
                    await self.replicator.announce([], [(digest, target)])
                    self.ctx.bus.publish(
                        STORAGE_REPLICATED,
                        ChunkReplicated(chunk=digest, node_id=target, path=manifest.path),
                    )
        for path in degraded - self._degraded:
            self.ctx.bus.publish(STORAGE_DEGRADED, FileHealthChanged(path=path))
        for path in self._degraded - degraded:
            self.ctx.bus.publish(STORAGE_HEALTHY, FileHealthChanged(path=path))
        self._degraded = degraded
        self.ctx.capabilities.storage_degraded = len(degraded)

    async def scrub(self) -> None:
        chunks = self.service.chunks
        for digest in await anyio.to_thread.run_sync(lambda: list(chunks.digests())):
            try:
                intact = await anyio.to_thread.run_sync(chunks.verify, digest)
            except ChunkMissing:
                continue
            if not intact:
                self.service.corrupt.inc()
                try:
                    await self.service.read_chunk(digest)  # fetches a replica and repairs
                except Exception as exc:  # no replica reachable now; the next scrub retries
                    log.warning("cannot repair chunk %s yet: %s", digest[:12], exc)
        await anyio.to_thread.run_sync(chunks.recount)
