"""Searching this node's index: by meaning (vectors), by words (FTS5, BM25), or both fused.

Hybrid ranks each chunk by reciprocal rank fusion of its places in the two lists
(score = sum of 1 / (RRF_K + rank)), which needs no calibration between cosine similarities
and BM25 scores. Each list is read deeper than `k` so a chunk found by both rises. The query
text never reaches FTS5 as syntax: its words are quoted, so `"`, `*`, `NEAR` or `OR` in a
query are words, never operators.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio.to_thread

from agent.brain.embedder import Embedder
from agent.brain.holder import IndexHolder
from agent.brain.models import BrainHit, SearchMode
from agent.brain.store import BrainStore, StoredChunk

if TYPE_CHECKING:
    from agent.brain.vectors import Vectors

RRF_K = 60
DEPTH = 4
MIN_DEPTH = 40
MAX_TERMS = 32
SNIPPET = 240
Ranked = list[tuple[int, float]]
_WORD = re.compile(r"\w+", re.UNICODE)


def fts_match(query: str) -> str | None:
    """An FTS5 expression matching any of the query's words, or None if it has none."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words)


def snippet(text: str, query: str) -> str:
    """About SNIPPET characters around the first word of the query found in the text."""
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET:
        return flat
    lowered = flat.lower()
    hits = [lowered.find(w.lower()) for w in _WORD.findall(query)]
    first = min((h for h in hits if h >= 0), default=0)
    start = max(0, first - SNIPPET // 3)
    piece = flat[start : start + SNIPPET]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET < len(flat) else "")


def fuse(lists: list[list[int]], k: int) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranked in lists:
        for rank, chunk_id in enumerate(ranked, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


class LocalSearch:
    def __init__(
        self,
        store: BrainStore,
        holder: IndexHolder,
        embedder: Embedder,
        identity: Callable[[], tuple[str, str]],
    ) -> None:
        self.store = store
        self.holder = holder
        self.embedder = embedder
        self.identity = identity

    async def _query_vector(self, query: str) -> Vectors:
        matrix: Vectors = await anyio.to_thread.run_sync(self.embedder.encode, [query])
        return matrix[0]  # type: ignore[no-any-return]

    async def _vector(self, query: str, depth: int, path: str | None) -> list[tuple[int, float]]:
        await self.holder.ready.wait()
        if self.holder.index is None or self.holder.index.count == 0:
            return []
        allowed = None if path is None else await self.store.ids_under(path)
        if allowed is not None and not allowed:
            return []
        return await self.holder.search(await self._query_vector(query), depth, allowed)

    async def _lexical(self, query: str, depth: int, path: str | None) -> list[tuple[int, float]]:
        match = fts_match(query)
        return [] if match is None else await self.store.lexical(match, depth, path)

    async def search(
        self, query: str, k: int, mode: SearchMode, path: str | None
    ) -> list[BrainHit]:
        ranked: list[tuple[int, float]]
        if mode == "vector":
            ranked = await self._vector(query, k, path)
        elif mode == "lexical":
            ranked = await self._lexical(query, k, path)
        else:
            depth = max(k * DEPTH, MIN_DEPTH)
            both: list[list[tuple[int, float]]] = [[], []]

            async def run(
                slot: int, find: Callable[[], Awaitable[list[tuple[int, float]]]]
            ) -> None:
                both[slot] = await find()

            async with anyio.create_task_group() as tg:
                tg.start_soon(run, 0, lambda: self._vector(query, depth, path))
                tg.start_soon(run, 1, lambda: self._lexical(query, depth, path))
            ranked = fuse([[i for i, _ in found] for found in both], k)
        chunks = await self.store.chunks([i for i, _ in ranked])
        return [self._hit(chunks[i], score, query) for i, score in ranked if i in chunks]

    def _hit(self, chunk: StoredChunk, score: float, query: str) -> BrainHit:
        node_id, node_name = self.identity()
        return BrainHit(
            node_id=node_id,
            node_name=node_name,
            path=chunk.path,
            start_line=chunk.start_line,
            end_line=chunk.end_line,
            heading=list(chunk.heading),
            content_hash=chunk.content_hash,
            score=round(score, 6),
            snippet=snippet(chunk.text, query),
            text=chunk.text,
        )
