"""The vector index on its own: slots reused, compaction, atomic saves and reconciliation
with the database's ids after a crash (the saved file older than the database)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.brain.vectors import FILE, VectorIndex, Vectors

DIMS = 16


def unit(n: int, seed: int = 0) -> Vectors:
    rows = np.random.default_rng(seed).standard_normal((n, DIMS)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


VECTORS = unit(3000)


def fetch(ids: list[int]) -> Vectors:
    return VECTORS[ids]


def opened(folder: Path, live: list[int]) -> VectorIndex:
    index = VectorIndex(folder, DIMS)
    index.load(live, fetch)
    return index


def test_deleted_slots_are_reused_so_churn_does_not_grow_the_index(tmp_path: Path) -> None:
    index = opened(tmp_path, [])
    index.add(list(range(1000)), VECTORS[:1000])
    for round_ in range(1, 4):
        old = list(range((round_ - 1) * 1000, round_ * 1000))
        new = list(range(round_ * 1000, (round_ + 1) * 1000)) if round_ < 3 else []
        index.remove(old)
        if new:
            index.add(new, VECTORS[new])
    # Three generations of 1,000 went through; the slots stayed those of one.
    assert index._index.element_count == 1000
    assert (index.count, index.deleted) == (0, 1000)


def test_compaction_when_over_a_fifth_is_deleted(tmp_path: Path) -> None:
    index = opened(tmp_path, [])
    index.add(list(range(1000)), VECTORS[:1000])
    index.remove(range(150))
    assert not index.needs_compaction()
    index.remove(range(150, 250))
    assert index.needs_compaction()
    index.compact()
    assert (index.count, index.deleted) == (750, 0)
    best, similarity = index.search(VECTORS[600], 1)[0]
    assert best == 600
    assert similarity == pytest.approx(1.0, abs=1e-4)


def test_search_is_limited_to_allowed_ids(tmp_path: Path) -> None:
    index = opened(tmp_path, [])
    index.add(list(range(500)), VECTORS[:500])
    found = index.search(VECTORS[10], 5, allowed={3, 4, 5})
    assert {i for i, _ in found} == {3, 4, 5}
    assert index.search(VECTORS[10], 5, allowed=set()) == []


def test_a_saved_index_is_reconciled_with_the_database(tmp_path: Path) -> None:
    index = opened(tmp_path, [])
    index.add(list(range(1000)), VECTORS[:1000])
    index.save()
    # Then, before the next save, the database moved on: 0-99 deleted, 1000-1099 added.
    reopened = opened(tmp_path, list(range(100, 1100)))
    assert reopened.count == 1000
    assert reopened.search(VECTORS[1050], 1)[0][0] == 1050
    assert all(i >= 100 for i, _ in reopened.search(VECTORS[5], 50))


def test_an_unreadable_index_file_is_rebuilt_from_stored_vectors(tmp_path: Path) -> None:
    index = opened(tmp_path, [])
    index.add(list(range(300)), VECTORS[:300])
    index.save()
    (tmp_path / FILE).write_bytes(b"not an index")
    rebuilt = opened(tmp_path, list(range(300)))
    assert rebuilt.count == 300
    assert rebuilt.search(VECTORS[7], 1)[0][0] == 7


def test_saves_leave_no_temporary_file_and_grow_past_capacity(tmp_path: Path) -> None:
    index = opened(tmp_path, [])
    index.add(list(range(2500)), VECTORS[:2500])  # past the initial capacity of 1,024
    index.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE]
    assert opened(tmp_path, list(range(2500))).count == 2500


def test_a_saved_index_takes_more_vectors_after_loading(tmp_path: Path) -> None:
    opened(tmp_path, []).save()  # an empty index on disk, as after the first vectors' dims
    index = VectorIndex(tmp_path, DIMS)
    index.load([], fetch)
    index.add(list(range(2000)), VECTORS[:2000])
    assert index.count == 2000
