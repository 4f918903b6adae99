"""Semantic search over active facts: the brain's text encoder turns text into vectors here
(never taken from the wire), and a `FactMatrix` holds the active ones.

Facts written here get their vector as they are stored; facts that arrive by replication,
or whose vector is of another model, are embedded by `run` in the background and are listed
but not searchable until then. Without a working encoder (no brain, or the embedding stack
is not installed) nothing is encoded: search answers 503 MEMORY_UNAVAILABLE and duplicates
are recognised by their text only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from agent.core.embedding import EncoderUnavailable, TextEncoder
from agent.memory.store import MemoryStore

if TYPE_CHECKING:
    from agent.memory.vectors import FactMatrix, Vectors

log = logging.getLogger("openfabric.memory")
NO_ENCODER = (
    "memory search needs the brain's text encoder: install 'openfabric[brain]' "
    "(`pip install 'openfabric[brain]'`; `make` does it for a checkout)"
)
EMBED_BATCH = 64


class FactIndex:
    def __init__(self, encoder: TextEncoder | None, store: MemoryStore, lock: anyio.Lock):
        self.encoder = encoder
        self.store = store
        # The writers' lock: a vector enters the matrix only while its fact is still active.
        self.lock = lock
        self.matrix: FactMatrix | None = None
        self._wanted = anyio.Event()

    def problem(self) -> str | None:
        if self.encoder is None:
            return NO_ENCODER
        return self.encoder.problem()

    @property
    def model(self) -> str:
        return "" if self.encoder is None else self.encoder.name

    async def encode(self, texts: list[str]) -> Vectors | None:
        """Unit vectors of `texts`, or None when no encoder works here."""
        if self.encoder is None or not texts or self.problem() is not None:
            return None
        try:
            # Abandoned on cancel: a shutdown must not wait for the model to finish loading.
            return await anyio.to_thread.run_sync(
                self.encoder.encode, texts, abandon_on_cancel=True
            )
        except EncoderUnavailable as exc:
            log.warning("facts are not embedded: %s", exc)
            return None

    def _matrix(self, dimensions: int) -> FactMatrix:
        if self.matrix is None:
            from agent.memory.vectors import FactMatrix

            self.matrix = FactMatrix(dimensions)
        return self.matrix

    async def load(self) -> None:
        """The stored vectors of active facts into the matrix (those of this model)."""
        if self.problem() is not None:
            return
        stored = await self.store.vectors(self.model)
        if stored:  # numpy is loaded only once there is a vector to hold
            await self._hold(stored)
        self.wanted()

    async def _hold(self, stored: list[tuple[str, bytes]]) -> None:
        from agent.memory.vectors import from_blobs

        ids, vectors, unusable = from_blobs(stored)
        if ids:
            matrix = self._matrix(vectors.shape[1])
            if matrix.dimensions == vectors.shape[1]:
                matrix.extend(ids, vectors)
            else:
                unusable += ids
        await self.store.clear_vectors(unusable)

    def put(self, fact_id: str, vector: Vectors) -> None:
        matrix = self._matrix(len(vector))
        if len(vector) == matrix.dimensions:
            matrix.put(fact_id, vector)

    def drop(self, fact_id: str) -> None:
        if self.matrix is not None:
            self.matrix.drop(fact_id)

    def nearest(self, query: Vectors, k: int) -> list[tuple[str, float]]:
        return [] if self.matrix is None else self.matrix.top(query, k)

    def searchable(self, fact_id: str) -> bool:
        return self.matrix is not None and fact_id in self.matrix

    def wanted(self) -> None:
        """Some active facts may lack a vector of this model: `run` looks."""
        self._wanted.set()

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted = anyio.Event()
            try:
                await self.embed_missing()
            except Exception:  # the next change tries again
                log.exception("embedding facts failed")

    async def embed_missing(self) -> int:
        done = 0
        while self.problem() is None:
            batch = await self.store.unembedded(self.model, EMBED_BATCH)
            vectors = await self.encode([text for _, text in batch])
            if vectors is None:
                return done
            from agent.memory.vectors import to_blob

            async with self.lock:
                found = [(i, t, to_blob(v)) for (i, t), v in zip(batch, vectors, strict=True)]
                stored = set(await self.store.set_vectors(found, self.model))
                for (fact_id, _), vector in zip(batch, vectors, strict=True):
                    if fact_id in stored:
                        self.put(fact_id, vector)
            done += len(stored)
            if len(batch) < EMBED_BATCH:
                return done
        return done
