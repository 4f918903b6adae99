"""The vector index: hnswlib (cosine) over chunk vectors, labelled by chunk id.

SQLite is the truth (every chunk's vector is stored there); this index is a cache of it that
answers nearest-neighbour queries. Changes reach SQLite first and the index second, and the
index file is saved atomically (a temporary file, fsync, rename), so after a kill -9 the file
on disk is an older state of the index: `reconcile` brings it level with SQLite (drops ids
SQLite no longer has, adds the ones it lacks from their stored vectors), and a file that
cannot be loaded is rebuilt from SQLite.

Deleted slots are reused by later adds (`allow_replace_deleted`), so churn does not grow the
index; when more than `COMPACT_RATIO` of the slots are deleted anyway (many deletes, few
adds) `compact` rebuilds it from the live vectors. Every method is blocking and thread-safe:
call them from a worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

import hnswlib
import numpy as np
import numpy.typing as npt

log = logging.getLogger("openfabric.brain")

Vectors = npt.NDArray[np.float32]
FILE = "vectors.hnsw"
M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = 128
INITIAL_CAPACITY = 1024
COMPACT_RATIO = 0.2


class VectorIndex:
    def __init__(self, folder: Path, dimensions: int) -> None:
        self.path = folder / FILE
        self.dimensions = dimensions
        self._lock = threading.RLock()
        self._index = self._empty(INITIAL_CAPACITY)
        self._live: set[int] = set()
        self.dirty = False

    def _empty(self, capacity: int) -> hnswlib.Index:
        index = hnswlib.Index(space="cosine", dim=self.dimensions)
        index.init_index(
            max_elements=capacity, ef_construction=EF_CONSTRUCTION, M=M, allow_replace_deleted=True
        )
        index.set_ef(EF_SEARCH)
        return index

    # -- state --

    @property
    def count(self) -> int:
        return len(self._live)

    @property
    def deleted(self) -> int:
        return max(0, int(self._index.element_count) - len(self._live))

    @property
    def file_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def needs_compaction(self) -> bool:
        slots = int(self._index.element_count)
        return slots > 0 and self.deleted / slots > COMPACT_RATIO

    # -- loading --

    def load(self, live_ids: Collection[int], vectors_of: Callable[[list[int]], Vectors]) -> None:
        """Load the saved index and reconcile it with `live_ids` (SQLite's chunk ids); rebuild
        it from `vectors_of` when there is no usable file."""
        with self._lock:
            if self.path.exists():
                try:
                    index = hnswlib.Index(space="cosine", dim=self.dimensions)
                    # Room for what SQLite holds now (0 would mean "exactly the saved count").
                    capacity = max(INITIAL_CAPACITY, 2 * len(live_ids))
                    index.load_index(
                        str(self.path), max_elements=capacity, allow_replace_deleted=True
                    )
                    index.set_ef(EF_SEARCH)
                    self._index = index
                    self._reconcile(set(live_ids), vectors_of)
                    return
                except (RuntimeError, ValueError, OSError) as exc:
                    log.warning("the brain index could not be loaded (%s): rebuilding", exc)
            self._rebuild(sorted(live_ids), vectors_of)

    def _reconcile(self, live: set[int], vectors_of: Callable[[list[int]], Vectors]) -> None:
        saved = {int(i) for i in self._index.get_ids_list()}
        present = {i for i in saved if self._has(i)}
        stale = present - live
        missing = sorted(live - present)
        for label in stale:
            self._index.mark_deleted(label)
        self._live = present & live
        if missing:
            self._add(missing, vectors_of(missing))
        if stale or missing:
            log.info(
                "brain index reconciled with the database: %d dropped, %d restored",
                len(stale),
                len(missing),
            )
            self.dirty = True

    def _has(self, label: int) -> bool:
        try:
            self._index.get_items([label])
        except RuntimeError:  # "Label not found": marked deleted
            return False
        return True

    def _rebuild(self, ids: list[int], vectors_of: Callable[[list[int]], Vectors]) -> None:
        self._index = self._empty(max(INITIAL_CAPACITY, len(ids) * 2))
        self._live = set()
        for start in range(0, len(ids), 4096):
            part = ids[start : start + 4096]
            self._add(part, vectors_of(part))
        self.dirty = True

    # -- changes --

    def add(self, ids: list[int], vectors: Vectors) -> None:
        with self._lock:
            self._add(ids, vectors)

    def _add(self, ids: list[int], vectors: Vectors) -> None:
        if not ids:
            return
        if vectors.shape != (len(ids), self.dimensions):
            raise ValueError(f"vectors of shape {vectors.shape} for {len(ids)} ids")
        fresh = [i for i in ids if i not in self._live]
        free = int(self._index.get_max_elements()) - int(self._index.element_count)
        needed = len(fresh) - min(self.deleted, len(fresh))
        if needed > free:
            capacity = max(INITIAL_CAPACITY, int(self._index.get_max_elements()))
            while capacity - int(self._index.element_count) < needed:
                capacity *= 2
            self._index.resize_index(capacity)
        self._index.add_items(vectors, np.asarray(ids, dtype=np.int64), replace_deleted=True)
        self._live.update(ids)
        self.dirty = True

    def remove(self, ids: Iterable[int]) -> None:
        with self._lock:
            for label in ids:
                if label in self._live:
                    self._index.mark_deleted(label)
                    self._live.discard(label)
                    self.dirty = True

    def compact(self) -> None:
        """Rebuild from the live vectors, so no slot is left deleted."""
        with self._lock:
            ids = sorted(self._live)
            old = self._index

            def from_old(part: list[int]) -> Vectors:
                return np.asarray(old.get_items(part, return_type="numpy"), dtype=np.float32)

            self._rebuild(ids, from_old)

    # -- queries --

    def search(
        self, vector: Vectors, k: int, allowed: Collection[int] | None = None
    ) -> list[tuple[int, float]]:
        """Up to `k` (id, cosine similarity) pairs, best first, among `allowed` if given."""
        with self._lock:
            available = len(self._live) if allowed is None else len(allowed)
            k = min(k, available)
            if k <= 0:
                return []
            self._index.set_ef(max(EF_SEARCH, k * 2))
            accept = None if allowed is None else (lambda label: label in allowed)
            labels, distances = self._index.knn_query(vector.reshape(1, -1), k=k, filter=accept)
        return [
            (int(label), 1.0 - float(distance))
            for label, distance in zip(labels[0], distances[0], strict=True)
        ]

    def similarities(self, vector: Vectors, ids: list[int]) -> dict[int, float]:
        """Cosine similarity of `vector` to each of `ids` still in the index."""
        with self._lock:
            present = [i for i in ids if i in self._live]
            if not present:
                return {}
            rows = np.asarray(self._index.get_items(present, return_type="numpy"))
        scores = rows @ vector / max(float(np.linalg.norm(vector)), 1e-12)
        norms = np.maximum(np.linalg.norm(rows, axis=1), 1e-12)
        return {i: float(s) for i, s in zip(present, scores / norms, strict=True)}

    # -- persistence --

    def save(self) -> None:
        with self._lock:
            if not self.dirty:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            self._index.save_index(str(temporary))
            self.dirty = False
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
