"""The vectors of active facts as one numpy matrix, for brute-force cosine top-k (exact, and
about a millisecond at 10,000 facts: `benchmarks/memory.py`). Rows are unit length, so a dot
product is the cosine. Adding appends a row (the matrix doubles when full); removing moves
the last row into the hole, so neither copies the matrix. Imported only when an encoder
works: the agent runs without numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
_FIRST_CAPACITY = 256


def from_blobs(rows: list[tuple[str, bytes]]) -> tuple[list[str], Vectors, list[str]]:
    """Stored vectors as (ids, one row each, ids whose blob is not a vector of the first
    blob's length or holds a non-finite float), in one pass of numpy."""
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32), []
    size = len(rows[0][1])
    fitting = [(i, b) for i, b in rows if len(b) == size and size % 4 == 0]
    unusable = [i for i, b in rows if len(b) != size or size % 4 != 0]
    if not fitting:
        return [], np.zeros((0, 0), dtype=np.float32), unusable
    data = np.frombuffer(b"".join(b for _, b in fitting), dtype=np.float32)
    data = data.reshape(len(fitting), size // 4)
    finite = np.asarray(np.isfinite(data).all(axis=1))
    flags: list[bool] = finite.tolist()
    unusable += [i for (i, _), ok in zip(fitting, flags, strict=True) if not ok]
    ids = [i for (i, _), ok in zip(fitting, flags, strict=True) if ok]
    return ids, data[finite], unusable


def to_blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


class FactMatrix:
    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._data: Vectors = np.zeros((_FIRST_CAPACITY, dimensions), dtype=np.float32)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, fact_id: object) -> bool:
        return fact_id in self._rows

    def put(self, fact_id: str, vector: Vectors) -> None:
        row = self._rows.get(fact_id)
        if row is None:
            row = len(self._ids)
            if row == len(self._data):
                grown = np.zeros((2 * len(self._data), self.dimensions), dtype=np.float32)
                grown[:row] = self._data
                self._data = grown
            self._ids.append(fact_id)
            self._rows[fact_id] = row
        self._data[row] = vector

    def extend(self, ids: list[str], vectors: Vectors) -> None:
        for fact_id in ids:
            self.drop(fact_id)
        start, end = len(self._ids), len(self._ids) + len(ids)
        if end > len(self._data):
            grown = np.zeros((max(end, 2 * len(self._data)), self.dimensions), dtype=np.float32)
            grown[:start] = self._data[:start]
            self._data = grown
        self._data[start:end] = vectors
        self._rows.update((fact_id, start + n) for n, fact_id in enumerate(ids))
        self._ids.extend(ids)

    def drop(self, fact_id: str) -> None:
        row = self._rows.pop(fact_id, None)
        if row is None:
            return
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._data[row] = self._data[last]
            self._ids[row] = moved
            self._rows[moved] = row
        self._ids.pop()

    def top(self, query: Vectors, k: int) -> list[tuple[str, float]]:
        """The `k` rows most similar to `query`, best first (ties by id)."""
        count = len(self._ids)
        if count == 0 or k <= 0:
            return []
        scores = self._data[:count] @ np.asarray(query, dtype=np.float32)
        best = np.argpartition(-scores, k - 1)[:k] if k < count else np.arange(count)
        ranked = sorted((-float(scores[i]), self._ids[i]) for i in best)
        return [(fact_id, -negative) for negative, fact_id in ranked]
