"""The vector index as the rest of the brain sees it: created when the first vectors tell
their dimensions, loaded and reconciled with SQLite on start, changed and queried in worker
threads, saved when changes settle and compacted when too many slots are deleted.

numpy and hnswlib are imported only when there is an index, so a brain with nothing to
index costs the agent no memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from agent.brain.store import BrainStore

if TYPE_CHECKING:
    from agent.brain.vectors import VectorIndex, Vectors


def _stored_vectors(db_path: Path, dimensions: int, ids: list[int]) -> Vectors:
    """Vectors of `ids` read with a connection of this thread's own (the index loads in a
    worker thread, away from the agent's connections); rows come back in `ids` order."""
    import numpy as np

    found: dict[int, bytes] = {}
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = conn.execute(f"SELECT id, vector FROM brain_chunks WHERE id IN ({marks})", part)
            found.update({int(i): bytes(v) for i, v in rows})
    matrix = np.frombuffer(b"".join(found[i] for i in ids), dtype=np.float32)
    return matrix.reshape(len(ids), dimensions)


class IndexHolder:
    def __init__(self, folder: Path, store: BrainStore, db_path: Path) -> None:
        self.folder = folder
        self.store = store
        self.db_path = db_path
        self.index: VectorIndex | None = None
        self.ready = anyio.Event()

    async def open(self) -> None:
        """Load the index if vectors were ever stored; searches wait for this."""
        try:
            dims = await self.store.meta("dimensions")
            if dims is not None:
                await self._load(int(dims))
        finally:
            self.ready.set()

    async def _load(self, dimensions: int) -> None:
        from agent.brain.vectors import VectorIndex

        live = await self.store.live_ids()
        index = VectorIndex(self.folder, dimensions)

        def load() -> None:
            index.load(live, lambda ids: _stored_vectors(self.db_path, dimensions, ids))
            index.save()

        await anyio.to_thread.run_sync(load)
        self.index = index

    async def ensure(self, dimensions: int) -> VectorIndex:
        if self.index is None:
            await self.store.set_meta("dimensions", str(dimensions))
            await self._load(dimensions)
        assert self.index is not None
        if self.index.dimensions != dimensions:
            raise RuntimeError(
                f"vectors of {dimensions} dimensions for an index of {self.index.dimensions}"
            )
        return self.index

    async def change(self, removed: list[int], added: list[int], vectors: Vectors | None) -> None:
        index = self.index
        if index is None:
            return

        def apply() -> None:
            index.remove(removed)
            if added and vectors is not None:
                index.add(added, vectors)

        await anyio.to_thread.run_sync(apply)

    async def search(
        self, vector: Vectors, k: int, allowed: Collection[int] | None
    ) -> list[tuple[int, float]]:
        await self.ready.wait()
        index = self.index
        if index is None:
            return []
        return await anyio.to_thread.run_sync(index.search, vector, k, allowed)

    async def similarities(self, vector: Vectors, ids: list[int]) -> dict[int, float]:
        index = self.index
        if index is None:
            return {}
        return await anyio.to_thread.run_sync(index.similarities, vector, ids)

    async def settle(self) -> None:
        """Compact if too much is deleted, then save what changed."""
        index = self.index
        if index is None:
            return

        def settle() -> None:
            if index.needs_compaction():
                index.compact()
            index.save()

        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(settle)

    async def drop(self) -> None:
        """Forget the index (another model): the next vectors create a new one."""
        self.index = None
        await self.store.clear_vectors()
        await self.store.delete_meta("dimensions")
        from agent.brain.vectors import FILE

        (self.folder / FILE).unlink(missing_ok=True)

    @property
    def file_bytes(self) -> int:
        return 0 if self.index is None else self.index.file_bytes

    @property
    def deleted(self) -> int:
        return 0 if self.index is None else self.index.deleted
