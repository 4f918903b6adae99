"""The matrix of active facts' vectors: exact top-k against numpy brute force through adds,
moves and removals, and stored vectors that are not vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.brain.embedder import SentenceEmbedder
from agent.core.recollection import FactClaim
from agent.memory.vectors import FactMatrix, Vectors, from_blobs, to_blob
from tests.memory.kit import memory_node

DIMENSIONS = 16


def unit(rng: np.random.Generator, count: int) -> Vectors:
    raw = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    norms = np.linalg.norm(raw, axis=1, keepdims=True).astype(np.float32)
    return np.asarray(raw / norms, dtype=np.float32)


def test_top_k_is_exact_through_adds_and_removals() -> None:
    rng = np.random.default_rng(7)
    vectors = unit(rng, 600)
    ids = [f"{i:032x}" for i in range(600)]
    matrix = FactMatrix(DIMENSIONS)
    matrix.extend(ids[:100], vectors[:100])
    for fact_id, vector in zip(ids[100:], vectors[100:], strict=True):
        matrix.put(fact_id, vector)  # grows past its first capacity
    removed = set(ids[::3])
    for fact_id in removed:
        matrix.drop(fact_id)
    matrix.drop("not there")
    kept = [i for i, fact_id in enumerate(ids) if fact_id not in removed]
    assert len(matrix) == len(kept)
    for query in unit(rng, 20):
        scores = vectors[kept] @ query
        expected = [ids[kept[i]] for i in np.argsort(-scores)[:10]]
        found = matrix.top(query, 10)
        assert [fact_id for fact_id, _ in found] == expected
        assert found[0][1] == pytest.approx(float(scores.max()), abs=1e-5)
    assert len(matrix.top(unit(rng, 1)[0], 10_000)) == len(kept)
    assert FactMatrix(DIMENSIONS).top(unit(rng, 1)[0], 5) == []


def test_blobs_that_are_not_vectors_are_set_aside() -> None:
    good = np.full(DIMENSIONS, 0.25, dtype=np.float32)
    nan = good.copy()
    nan[3] = np.nan
    rows = [
        ("a" * 32, to_blob(good)),
        ("b" * 32, to_blob(good)[:-4]),
        ("c" * 32, to_blob(nan)),
        ("d" * 32, to_blob(good)),
    ]
    ids, vectors, unusable = from_blobs(rows)
    assert ids == ["a" * 32, "d" * 32]
    assert vectors.shape == (2, DIMENSIONS)
    assert sorted(unusable) == ["b" * 32, "c" * 32]


async def test_a_damaged_stored_vector_is_embedded_again(
    tmp_path: Path, encoder: SentenceEmbedder
) -> None:
    async with memory_node(tmp_path, encoder) as node:
        [done] = await node.service.remember(
            [FactClaim("My editor is vim")], source="manual", session_id=None
        )
        await node.db.execute(
            "UPDATE memory_facts SET vector = ? WHERE id = ?", (b"\x00\x01", done.id)
        )
    async with memory_node(tmp_path, encoder) as node:
        assert (await node.service.search("editor", 1)).hits == []
        assert await node.book.index.embed_missing() == 1
        assert (await node.service.search("editor", 1)).hits[0].fact.id == done.id
