"""The indexing worker: takes queued paths in groups and brings the index level with them.

A group is looked at in a worker thread (`prepare.look`), then, in order: folders are walked
into the queue, new content is indexed (chunks whose text was embedded before take their
stored vector, the rest are encoded in batches off the event loop), then what is gone or
skipped leaves the index. New content goes first so a file moved (deleted here, created
there) finds its own vectors still stored. Every change reaches SQLite first, then the
vector index, then the bus.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from agent.brain import prepare
from agent.brain.embedder import Embedder
from agent.brain.events import BRAIN_INDEXED, BRAIN_REMOVED, FileIndexed, FileRemoved
from agent.brain.holder import IndexHolder
from agent.brain.store import BrainStore, NewChunk, Removed
from agent.brain.walk import files_under, hidden_below, within
from agent.brain.work import Scan, WorkQueue
from agent.core.bus import EventBus

if TYPE_CHECKING:
    from agent.brain.vectors import Vectors

log = logging.getLogger("openfabric.brain")
GROUP_FILES = 64
ENCODE_BATCH = 256
# Vectors of chunks that just left the index, for a move noticed in a later group.
RECENT_VECTORS = 4096


@dataclass
class Rate:
    """Chunks encoded per second, smoothed over recent batches."""

    value: float = 0.0

    def record(self, chunks: int, seconds: float) -> None:
        if chunks and seconds > 0:
            current = chunks / seconds
            self.value = current if self.value == 0 else 0.7 * self.value + 0.3 * current


class Indexer:
    def __init__(
        self,
        store: BrainStore,
        holder: IndexHolder,
        embedder: Embedder,
        bus: EventBus,
        queue: WorkQueue,
        sources: Callable[[], list[str]],
        max_bytes: int,
        private: list[str],
    ) -> None:
        self.store = store
        self.holder = holder
        self.embedder = embedder
        self.bus = bus
        self.queue = queue
        self.sources = sources
        self.max_bytes = max_bytes
        # The agent's own data (keys, token, database): never indexed, whatever the sources.
        self.private = private
        self.rate = Rate()
        self.busy = False
        self.last_change: float | None = None
        self._recent: OrderedDict[str, bytes] = OrderedDict()

    async def run(self) -> None:
        while True:
            await self.queue.wait()
            while group := self.queue.take(GROUP_FILES):
                self.busy = True
                try:
                    await self.process(group)
                finally:
                    self.busy = False
            await self.holder.settle()

    async def process(self, group: list[tuple[str, set[Scan]]]) -> None:
        roots = self.sources()
        looked: list[tuple[prepare.Looked, set[Scan]]] = []
        for path, scans in group:
            if not within(path, roots) or hidden_below(path, roots) or within(path, self.private):
                looked.append((prepare.Gone(path), scans))
                continue
            known = await self.store.state(path)
            found = await anyio.to_thread.run_sync(
                prepare.look, path, known, self.embedder.name, self.max_bytes
            )
            looked.append((found, scans))
        for found, scans in looked:
            if isinstance(found, prepare.Folder):
                await self._walk(found.path, scans)
        changed = [(f, s) for f, s in looked if isinstance(f, prepare.Changed)]
        forgotten = await self.store.forgotten(f.content_hash for f, _ in changed)
        if forgotten:
            # Forgotten content stays out of the index until the file changes.
            for found, scans in changed:
                if found.content_hash in forgotten:
                    await self._forget(await self.store.remove([found.path]), "forgotten")
                    self._settle(found.path, scans, counted=True)
            changed = [(f, s) for f, s in changed if f.content_hash not in forgotten]
        if changed:
            await self._index(changed)
        for found, scans in looked:
            if isinstance(found, prepare.Unchanged):
                if not found.same_time:
                    await self.store.touch(found.path, found.size, found.mtime_ns)
                for scan in scans if found.skipped else ():
                    scan.skipped += 1
            elif isinstance(found, prepare.Skip):
                was = await self.store.skip_file(
                    found.path, found.reason, found.detail, found.size, found.mtime_ns
                )
                await self._forget([was] if was else [], "skipped")
                for scan in scans:
                    scan.skipped += 1
            elif isinstance(found, prepare.Gone):
                removed = await self.store.remove(await self.store.paths_under(found.path))
                await self._forget(removed, "deleted")
                for scan in scans:
                    scan.removed += len(removed)
            if not isinstance(found, prepare.Changed | prepare.Folder):
                self._settle(found.path, scans, counted=not isinstance(found, prepare.Gone))

    async def _walk(self, folder: str, scans: set[Scan]) -> None:
        found = await anyio.to_thread.run_sync(lambda: list(files_under(Path(folder))))
        files = [p for p in found if not within(p, self.private)]
        present = set(files)
        # Files gone from the folder since it was last walked leave the index too.
        gone = [p for p in await self.store.paths_under(folder) if p not in present]
        for paths, seen in ((files, True), (gone, False)):
            for path in paths:
                self.queue.put(path, scans, seen=seen)
        self._settle(folder, scans, counted=False)

    async def _index(self, changed: list[tuple[prepare.Changed, set[Scan]]]) -> None:
        files = [f for f, _ in changed]
        pieces = [p for f in files for p in f.pieces]
        known = await self.store.vectors_by_text(p.text_hash for p in pieces)
        for piece in pieces:
            if piece.text_hash not in known and piece.text_hash in self._recent:
                known[piece.text_hash] = self._recent[piece.text_hash]
        todo = list(dict.fromkeys(p.text_hash for p in pieces if p.text_hash not in known))
        texts = {p.text_hash: p.embed_text for p in pieces}
        fresh = await self._encode([texts[h] for h in todo])
        for text_hash, vector in zip(todo, fresh, strict=True):
            known[text_hash] = vector
        if not known:
            return
        dimensions = len(next(iter(known.values()))) // 4
        await self.holder.ensure(dimensions)
        encoded = set(todo)
        for file, scans in changed:
            rows = [
                NewChunk(
                    p.text_hash,
                    p.chunk.start_line,
                    p.chunk.end_line,
                    p.chunk.heading,
                    p.chunk.text,
                    known[p.text_hash],
                )
                for p in file.pieces
            ]
            old, new = await self.store.replace_file(
                file.path,
                content_hash=file.content_hash,
                size=file.size,
                mtime_ns=file.mtime_ns,
                kind=file.kind,
                chunks=rows,
                at=time.time(),
            )
            await self.holder.change(old, new, _matrix([r.vector for r in rows], dimensions))
            embedded = sum(1 for p in file.pieces if p.text_hash in encoded)
            encoded -= {p.text_hash for p in file.pieces}
            self.last_change = time.time()
            self.bus.publish(
                BRAIN_INDEXED,
                FileIndexed(
                    path=file.path,
                    content_hash=file.content_hash,
                    chunks=len(rows),
                    embedded=embedded,
                    reused=len(rows) - embedded,
                ),
            )
            for scan in scans:
                scan.chunks_embedded += embedded
                scan.chunks_reused += len(rows) - embedded
            self._settle(file.path, scans, counted=True)

    async def _encode(self, texts: list[str]) -> list[bytes]:
        vectors: list[bytes] = []
        if texts and not self.embedder.loaded:
            # Loading takes seconds: not part of the rate.
            await anyio.to_thread.run_sync(self.embedder.dimensions)
        for start in range(0, len(texts), ENCODE_BATCH):
            batch = texts[start : start + ENCODE_BATCH]
            began = time.perf_counter()
            matrix = await anyio.to_thread.run_sync(self.embedder.encode, batch)
            self.rate.record(len(batch), time.perf_counter() - began)
            vectors.extend(row.tobytes() for row in matrix)
        return vectors

    async def _forget(self, removed: Iterable[Removed], why: str) -> None:
        for gone in removed:
            for text_hash, vector in gone.vectors:
                self._remember(text_hash, vector)
            await self.holder.change(gone.ids, [], None)
            self.last_change = time.time()
            self.bus.publish(
                BRAIN_REMOVED,
                FileRemoved(
                    path=gone.path,
                    content_hash=gone.content_hash,
                    chunks=len(gone.ids),
                    why=why,
                ),
            )

    def _remember(self, text_hash: str, vector: bytes) -> None:
        self._recent[text_hash] = vector
        self._recent.move_to_end(text_hash)
        while len(self._recent) > RECENT_VECTORS:
            self._recent.popitem(last=False)

    def _settle(self, path: str, scans: set[Scan], *, counted: bool) -> None:
        for scan in scans:
            scan.pending.discard(path)
            if counted:
                scan.files_done += 1
            scan.settle()


def _matrix(rows: list[bytes], dimensions: int) -> Vectors | None:
    if not rows:
        return None
    import numpy as np

    return np.frombuffer(b"".join(rows), dtype=np.float32).reshape(len(rows), dimensions)
