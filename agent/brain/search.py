"""Searching this node's index: by meaning (vectors), by words (FTS5, BM25), or both fused.

Hybrid ranks each chunk by reciprocal rank fusion of its places in the two lists
(score = sum of 1 / (RRF_K + rank)), which needs no calibration between cosine similarities
and BM25 scores. Each list is read deeper than `k` so a chunk found by both rises. The query
text never reaches FTS5 as syntax: its words are quoted, so `"`, `*`, `NEAR` or `OR` in a
query are words, never operators.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
Ranked = list[tuple[int, float]]
SNIPPET = 240
_WORD = re.compile(r"\w+", re.UNICODE)


# Words that match nearly every English chunk: dropped from a query that has others.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "had",
    "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our",
    "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with",
    "you", "your",
})  # fmt: skip


def fts_match(query: str) -> str | None:
    """An FTS5 expression matching any of the query's words, or None if it has none."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    meaningful = [w for w in words if w not in STOPWORDS]
    words = (meaningful or words)[:MAX_TERMS]
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


def fuse_hits(hits: list[BrainHit], k: int) -> list[BrainHit]:
    """Hybrid hits from several nodes, fused again over the cluster-wide rankings by
    similarity and by BM25 (each node's own fused score only ranks within its index)."""
    by_similarity = sorted(
        (i for i, h in enumerate(hits) if h.similarity is not None),
        key=lambda i: -(hits[i].similarity or 0.0),
    )
    by_words = sorted(
        (i for i, h in enumerate(hits) if h.bm25 is not None), key=lambda i: -(hits[i].bm25 or 0.0)
    )
    return [
        hits[i].model_copy(update={"score": round(score, 6)})
        for i, score in fuse([by_similarity, by_words], k)
    ]


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

    async def _query_vector(self, query: str) -> Vectors | None:
        """None while the index is empty: nothing to compare with (and no model to load)."""
        await self.holder.ready.wait()
        if self.holder.index is None or self.holder.index.count == 0:
            return None
        matrix: Vectors = await anyio.to_thread.run_sync(self.embedder.encode, [query])
        return matrix[0]  # type: ignore[no-any-return]

    async def _vector(self, vector: Vectors | None, depth: int, path: str | None) -> Ranked:
        if vector is None:
            return []
        allowed = None if path is None else await self.store.ids_under(path)
        if allowed is not None and not allowed:
            return []
        return await self.holder.search(vector, depth, allowed)

    async def _lexical(self, query: str, depth: int, path: str | None) -> Ranked:
        match = fts_match(query)
        return [] if match is None else await self.store.lexical(match, depth, path)

    async def search(
        self, query: str, k: int, mode: SearchMode, path: str | None
    ) -> list[BrainHit]:
        if mode == "lexical":
            lexical = await self._lexical(query, k, path)
            return await self._hits(lexical, query, {}, dict(lexical))
        vector = await self._query_vector(query)
        if mode == "vector":
            near = await self._vector(vector, k, path)
            return await self._hits(near, query, dict(near), {})
        depth = max(k * DEPTH, MIN_DEPTH)
        near = await self._vector(vector, depth, path)
        lexical = await self._lexical(query, depth, path)
        similarity = dict(near)
        words = dict(lexical)
        unscored = [i for i in words if i not in similarity]
        if vector is not None and unscored:
            similarity.update(await self.holder.similarities(vector, unscored))
        ranked = fuse([[i for i, _ in near], [i for i, _ in lexical]], k)
        return await self._hits(ranked, query, similarity, words)

    async def _hits(
        self, ranked: Ranked, query: str, similarity: dict[int, float], bm25: dict[int, float]
    ) -> list[BrainHit]:
        chunks = await self.store.chunks([i for i, _ in ranked])
        return [
            self._hit(chunks[i], score, query, similarity.get(i), bm25.get(i))
            for i, score in ranked
            if i in chunks
        ]

    def _hit(
        self,
        chunk: StoredChunk,
        score: float,
        query: str,
        similarity: float | None,
        bm25: float | None,
    ) -> BrainHit:
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
            similarity=None if similarity is None else round(similarity, 6),
            bm25=None if bm25 is None else round(bm25, 6),
            snippet=snippet(chunk.text, query),
            text=chunk.text,
        )
