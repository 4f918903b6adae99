"""This node's chunks on disk against its records: garbage collection and reconciliation.

- `collect` deletes local chunks that no saved manifest references, that are not pinned
  (`pins`: uploads in progress here, chunks members are pushing here) and that were last
  stored more than `storage_gc_grace` seconds ago. The pin check, the age check and the
  deletion happen under the pin lock, so a chunk an upload has just pinned is never deleted.
- `reconcile` makes this node's holder records say what its disk holds: a record whose chunk
  is gone (deleted by hand, lost with a disk) is dropped, and a referenced chunk on disk
  without a record gets one. Other members learn this node's records from its sync snapshot,
  so replica counts everywhere follow real copies.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import anyio.to_thread

from agent.core.subsystem import Context
from agent.storage.chunks import ChunkStore
from agent.storage.pins import Pins
from agent.storage.store import StorageStore


class Collector:
    def __init__(
        self,
        ctx: Context,
        store: StorageStore,
        chunks: ChunkStore,
        pins: Pins,
        me: Callable[[], str],
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.chunks = chunks
        self.pins = pins
        self._me = me
        self.runs = ctx.metrics.counter(
            "storage_gc_runs_total", "Garbage collections of unreferenced local chunks"
        )
        self.collected = ctx.metrics.counter(
            "storage_chunks_collected_total", "Unreferenced local chunks deleted"
        )
        ctx.metrics.gauge_callback(
            "storage_chunks_pinned",
            "Chunks kept from garbage collection for uploads in progress",
            lambda: float(pins.count()),
        )

    async def collect(self) -> list[str]:
        """Delete what may be deleted now; answers the digests deleted."""
        # Taken before the manifests are read: pins released after this still count.
        self.pins.forget_before(self.pins.now())
        needed = await self.store.referenced()
        on_disk = await anyio.to_thread.run_sync(lambda: list(self.chunks.digests()))
        candidates = [d for d in on_disk if d not in needed]
        removed = await anyio.to_thread.run_sync(self._delete_unpinned, candidates)
        for digest in removed:
            await self.store.remove_holder(self._me(), digest)
        self.runs.inc()
        self.collected.inc(len(removed))
        return removed

    def _delete_unpinned(self, candidates: list[str]) -> list[str]:
        grace = self.ctx.settings.storage_gc_grace
        removed = []
        for digest in candidates:
            with self.pins.collecting() as pinned:
                if pinned(digest):
                    continue
                try:
                    if os.stat(self.chunks.path_of(digest)).st_mtime > time.time() - grace:
                        continue
                except FileNotFoundError:
                    continue
                if self.chunks.delete(digest):
                    removed.append(digest)
        return removed

    async def reconcile(self) -> None:
        me = self._me()
        # Records first, then the disk: a chunk stored in between is on disk and keeps its
        # record; only a chunk that is really gone loses one.
        recorded = await self.store.held_by(me)
        needed = await self.store.referenced()
        on_disk = set(await anyio.to_thread.run_sync(lambda: list(self.chunks.digests())))
        gone = recorded - on_disk
        unrecorded = (on_disk & needed) - recorded
        if gone:
            await self.store.remove_holdings(me, gone)
        if unrecorded:
            await self.store.add_holders([(d, me) for d in unrecorded])
