"""Files in the shared storage: upload, download, list, delete.

An upload is read as a stream and cut into chunks; each chunk is kept here and copied to
`storage_replicas - 1` other online members with the most free space before the next is read,
so memory holds one chunk at a time. Only when every chunk is stored is the manifest saved and
announced: an interrupted upload (even kill -9) leaves no visible file, only unreferenced
chunks that garbage collection removes. Until then the upload's chunks are pinned (`pins`),
so garbage collection cannot delete one, new or reused, before the manifest names it.

Replica counts (`describe`, healing) count copies that exist: this node's own are checked on
its disk, other members' come from their own reports (see `Replicator.merge`).

Reads of the namespace (a manifest, a listing, an upload's existence check) wait until this
node's manifests are current (`freshness`), so a node back from a restart never shows a file
deleted while it was away.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread

from agent.core.errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from agent.core.subsystem import Context
from agent.storage.blocks import CHUNK_SIZE, asplit
from agent.storage.chunks import ChunkCorrupt, ChunkMissing, ChunkStore, QuotaExceeded
from agent.storage.events import (
    STORAGE_DELETED,
    STORAGE_REPAIRED,
    STORAGE_UPLOADED,
    ChunkRepaired,
    FileDeleted,
    FileUploaded,
)
from agent.storage.freshness import Freshness
from agent.storage.manifest import Manifest
from agent.storage.models import StorageDeleted, StorageHealth, StoredFile
from agent.storage.paths import InvalidPath, normalize, normalize_prefix
from agent.storage.pins import Lease, Pins
from agent.storage.replication import Replicator
from agent.storage.requests import MAX_FILE_BYTES
from agent.storage.store import StorageStore

log = logging.getLogger("openfabric.storage")
HEALTHY: StorageHealth = "healthy"
DEGRADED: StorageHealth = "degraded"
UNAVAILABLE: StorageHealth = "unavailable"


def checked_path(path: str) -> str:
    try:
        return normalize(path)
    except InvalidPath as exc:
        raise BadRequest(
            f"invalid storage path: {exc}", code="INVALID_PATH", details={"path": path[:200]}
        ) from None


class InsufficientStorage(ApiError):
    status, code = 507, "INSUFFICIENT_STORAGE"


class StorageService:
    def __init__(
        self,
        ctx: Context,
        store: StorageStore,
        chunks: ChunkStore,
        replicator: Replicator,
        pins: Pins,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.chunks = chunks
        self.replicator = replicator
        self.pins = pins
        self.freshness = Freshness(replicator)
        ctx.metrics.gauge_callback(
            "storage_synced",
            "1 once this node's storage manifests are current, 0 while it pulls them",
            lambda: float(self.freshness.synced),
        )
        self.repaired = ctx.metrics.counter(
            "storage_chunks_repaired_total", "Corrupt or missing chunks restored from a replica"
        )
        self.corrupt = ctx.metrics.counter(
            "storage_chunks_corrupt_total", "Local chunks found not to match their hash"
        )

    @property
    def replicas(self) -> int:
        online = len(self.replicator.online_members())
        return max(1, min(self.ctx.settings.storage_replicas, online))

    async def upload(
        self, raw_path: str, stream: AsyncIterable[bytes], overwrite: bool
    ) -> StoredFile:
        path = checked_path(raw_path)
        await self.freshness.current()
        existing = await self.store.get(path)
        if existing is not None and not existing.deleted and not overwrite:
            raise Conflict(
                f"{path} already exists; upload with overwrite=true to replace it",
                code="FILE_EXISTS",
                details={"path": path},
            )
        with self.pins.lease() as lease:
            manifest, holders = await self._store_file(path, stream, lease)
        await self.replicator.announce([manifest], holders)
        self.refresh_capacity()
        self.ctx.bus.publish(
            STORAGE_UPLOADED, FileUploaded(path=path, size=manifest.size, sha256=manifest.sha256)
        )
        return await self.describe(manifest)

    async def _store_file(
        self, path: str, stream: AsyncIterable[bytes], lease: Lease
    ) -> tuple[Manifest, list[tuple[str, str]]]:
        """Chunks stored and the manifest saved; the lease keeps them until it is saved."""
        whole, size = hashlib.sha256(), 0
        digests: list[str] = []
        holders: list[tuple[str, str]] = []
        # Two stages, so the network and the disk work at once: the request is read into the
        # next chunk while the previous one is hashed, written here and copied to replicas.
        send, receive = anyio.create_memory_object_stream[bytes](2)
        failures: list[Exception] = []

        async def read_request() -> None:
            async with send:
                async for block in asplit(stream, CHUNK_SIZE):
                    await send.send(block)

        placed = anyio.Event()

        async def store_chunks() -> None:
            nonlocal size
            async with receive, _setting(placed):
                async for block in receive:
                    if size + len(block) > MAX_FILE_BYTES:
                        raise PayloadTooLarge(
                            f"a stored file is at most {MAX_FILE_BYTES} bytes",
                            details={"limit": MAX_FILE_BYTES},
                        )
                    digest, stored = await self._place(block, whole, lease)
                    digests.append(digest)
                    size += len(block)
                    holders.extend((digest, node) for node in stored)

        async def keep_remote_pins() -> None:
            # Members pin what this upload pushes them only while it keeps asking: however
            # long the client pauses, their copies outlive the grace period until the manifest.
            every = max(0.05, self.ctx.settings.storage_gc_grace / 4)
            while not placed.is_set():
                with anyio.move_on_after(every):
                    await placed.wait()
                if not placed.is_set():
                    await self.replicator.keep_pinned(holders)

        async with anyio.create_task_group() as tg:
            for stage in (read_request, store_chunks, keep_remote_pins):
                tg.start_soon(_first_failure, stage, failures, tg.cancel_scope)
        if failures:
            raise failures[0]
        mine = [d for d, node in holders if node == self.replicator.me]
        await anyio.to_thread.run_sync(self.chunks.sync_dirs, mine)
        manifest = Manifest(
            path=path,
            modified=self.ctx.clock(),
            writer=self.replicator.me,
            deleted=False,
            size=size,
            sha256=whole.hexdigest(),
            chunk_size=CHUNK_SIZE,
            chunks=tuple(digests),
        )
        await self.store.add_holders(holders)
        await self.store.save_if_newer(manifest)
        return manifest, holders

    async def _place(self, block: bytes, whole: Any, lease: Lease) -> tuple[str, list[str]]:
        """Keep the chunk here and on the other chosen members; answers its digest and who
        stored it. Hashing and the local write run in a worker thread, beside the copies."""

        def hash_and_keep() -> tuple[str, bool]:
            whole.update(block)
            try:
                return self.chunks.add(block, sync_dir=False, before_store=lease.pin)[0], True
            except QuotaExceeded:
                return hashlib.sha256(block).hexdigest(), False

        digest, kept = await anyio.to_thread.run_sync(hash_and_keep)
        stored = [self.replicator.me] if kept else []
        if not kept:
            log.info("storage quota reached here; chunk %s goes elsewhere", digest[:12])
        stored += await self.replicator.spread(
            digest, block, self.replicas - len(stored), exclude={self.replicator.me}
        )
        if not stored:
            raise InsufficientStorage("no node has room for this file", details={"chunk": digest})
        return digest, stored

    async def manifest(self, raw_path: str) -> Manifest:
        path = checked_path(raw_path)
        await self.freshness.current()
        manifest = await self.store.get(path)
        if manifest is None or manifest.deleted:
            raise NotFound(
                f"no file {path} in storage", code="FILE_NOT_FOUND", details={"path": path}
            )
        return manifest

    async def read_chunk(self, digest: str) -> bytes:
        """A verified chunk: local, else from a holder (and then kept here again)."""
        try:
            return await anyio.to_thread.run_sync(self.chunks.get, digest)
        except ChunkCorrupt:
            self.corrupt.inc()
            log.warning("local chunk %s is corrupt; fetching a replica", digest[:12])
        except ChunkMissing:
            pass
        data = await self.replicator.fetch(digest, await self.store.holders(digest))
        if data is None:
            raise ServiceUnavailable(
                "no online node holds an intact copy of this file's data",
                code="DATA_UNAVAILABLE",
                details={"chunk": digest},
            )
        if self.replicator.me in await self.store.holders(digest):
            await anyio.to_thread.run_sync(self.chunks.repair, digest, data)
            self.repaired.inc()
            self.ctx.bus.publish(STORAGE_REPAIRED, ChunkRepaired(chunk=digest))
        return data

    async def read(self, manifest: Manifest, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes start..end (inclusive) of the file, every chunk verified before it is sent."""
        first, last = start // manifest.chunk_size, end // manifest.chunk_size
        for index in range(first, last + 1):
            data = await self.read_chunk(manifest.chunks[index])
            offset = index * manifest.chunk_size
            yield data[max(0, start - offset) : end - offset + 1]

    async def delete(self, raw_path: str) -> StorageDeleted:
        manifest = await self.manifest(raw_path)
        tombstone = Manifest(
            path=manifest.path,
            modified=max(self.ctx.clock(), manifest.modified + 1e-6),
            writer=self.replicator.me,
            deleted=True,
            size=0,
            sha256="",
            chunk_size=manifest.chunk_size,
            chunks=(),
        )
        await self.store.save_if_newer(tombstone)
        await self.replicator.announce([tombstone], [])
        self.ctx.bus.publish(STORAGE_DELETED, FileDeleted(path=manifest.path))
        return StorageDeleted(path=manifest.path, deleted=True)

    async def listing(self, raw_prefix: str) -> list[StoredFile]:
        try:
            prefix = normalize_prefix(raw_prefix)
        except InvalidPath as exc:
            raise BadRequest(f"invalid prefix: {exc}", code="INVALID_PATH") from None
        await self.freshness.current()
        return [await self.describe(m) for m in await self.store.listing(prefix)]

    async def holders_of(self, digests: Iterable[str]) -> dict[str, set[str]]:
        """Who holds each chunk: other members as they last reported, this node as its disk
        says now (so a copy deleted or lost here stops counting at once)."""
        holders = await self.store.holders_of(digests)
        me = self.replicator.me

        def here() -> set[str]:
            return {d for d in holders if self.chunks.has(d)}

        present = await anyio.to_thread.run_sync(here)
        for digest, nodes in holders.items():
            if digest in present:
                nodes.add(me)
            else:
                nodes.discard(me)
        return holders

    async def describe(self, manifest: Manifest) -> StoredFile:
        holders = await self.holders_of(manifest.chunks)
        online = {m.node_id for m in self.replicator.online_members()}
        want = self.replicas
        live = [len(nodes & online) for nodes in holders.values()]
        health = (
            HEALTHY
            if all(n >= want for n in live)
            else DEGRADED
            if all(n >= 1 for n in live)
            else UNAVAILABLE
        )
        return StoredFile(
            path=manifest.path,
            size=manifest.size,
            sha256=manifest.sha256,
            modified=manifest.modified,
            writer=manifest.writer,
            chunks=len(manifest.chunks),
            nodes=sorted({n for nodes in holders.values() for n in nodes}),
            health=health,
        )

    def refresh_capacity(self) -> None:
        """What this node can still take, for placement on every member (via heartbeats)."""
        quota = self.ctx.settings.storage_quota
        disk_free = shutil.disk_usage(self.ctx.settings.home).free
        room = disk_free if not quota else min(disk_free, quota - self.chunks.used_bytes)
        self.ctx.capabilities.storage_free = max(0, int(room))
        self.ctx.capabilities.storage_used = self.chunks.used_bytes


@asynccontextmanager
async def _setting(event: anyio.Event) -> AsyncIterator[None]:
    try:
        yield
    finally:
        event.set()


async def _first_failure(
    stage: Callable[[], Awaitable[None]], failures: list[Exception], scope: anyio.CancelScope
) -> None:
    """Run one pipeline stage; the first failure stops the other stage and is re-raised by
    the caller as itself (not wrapped in an exception group)."""
    try:
        await stage()
    except Exception as exc:
        failures.append(exc)
        scope.cancel()
