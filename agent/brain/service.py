"""The brain's domain logic: its sources, status, reindexing, search and forgetting.

Sources are `brain_paths` until someone sets them through `reindex(sources=...)`; from then
on the list kept in the database is the one used, across restarts. When the embedding stack
is not installed, status says what to install and every other call answers 503
BRAIN_UNAVAILABLE; nothing is indexed.
"""

from __future__ import annotations

import json
import os
import time
from typing import get_args

import anyio
import anyio.to_thread

from agent.brain.cluster import ClusterSearch
from agent.brain.embedder import Embedder, Unavailable, missing_stack
from agent.brain.events import BRAIN_REINDEX, BRAIN_REMOVED, FileRemoved
from agent.brain.holder import IndexHolder
from agent.brain.indexer import Indexer
from agent.brain.models import (
    BrainForgotten,
    BrainHit,
    BrainSearchAnswer,
    BrainSource,
    BrainStatus,
    SearchMode,
    SkippedFile,
    SkipReason,
)
from agent.brain.store import BrainStore
from agent.brain.walk import within
from agent.brain.watch import Watcher
from agent.brain.work import Scan, WorkQueue
from agent.core.errors import ApiError, BadRequest, NotFound, ServiceUnavailable
from agent.core.knowledge import Passage
from agent.core.subsystem import Context

PROGRESS_S = 0.5
SKIPPED_LISTED = 50


def unavailable(reason: str) -> ApiError:
    return ServiceUnavailable(reason, code="BRAIN_UNAVAILABLE")


class BrainService:
    def __init__(
        self,
        ctx: Context,
        store: BrainStore,
        holder: IndexHolder,
        embedder: Embedder,
        queue: WorkQueue,
        indexer: Indexer,
        watcher: Watcher,
        search: ClusterSearch,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.holder = holder
        self.embedder = embedder
        self.queue = queue
        self.indexer = indexer
        self.watcher = watcher
        self.cluster_search = search
        self.problem: str | None = missing_stack()
        self._sources = [str(p) for p in ctx.settings.brain_paths]

    # -- sources --

    def sources(self) -> list[str]:
        return list(self._sources)

    async def load_sources(self) -> None:
        kept = await self.store.meta("sources")
        if kept is not None:
            self._sources = list(json.loads(kept))

    async def check_model(self) -> None:
        """Vectors of another model are not comparable: a model change re-embeds all."""
        used = await self.store.meta("model")
        if used is not None and used != self.embedder.name:
            await self.holder.drop()
        if used != self.embedder.name:
            await self.store.set_meta("model", self.embedder.name)

    def require(self) -> None:
        if self.problem is not None:
            raise unavailable(self.problem)

    # -- status --

    async def status(self) -> BrainStatus:
        files, chunks = await self.store.totals()
        counts, listed = await self.store.skipped(SKIPPED_LISTED)
        sources = []
        for path in self._sources:
            under_files, under_chunks = await self.store.totals_under(path)
            exists = await anyio.to_thread.run_sync(os.path.exists, path)
            sources.append(
                BrainSource(path=path, exists=exists, files=under_files, chunks=under_chunks)
            )
        index = self.holder.index
        return BrainStatus(
            node_id=self.ctx.identity.node_id,
            available=self.problem is None,
            unavailable_reason=self.problem,
            sources=sources,
            watching=self.watcher.watching,
            files=files,
            chunks=chunks,
            skipped={r: counts.get(r, 0) for r in get_args(SkipReason)},
            skipped_files=[SkippedFile(path=p, reason=r, detail=d) for p, r, d in listed],
            model=self.embedder.name,
            model_loaded=self.embedder.loaded,
            dimensions=None if index is None else index.dimensions,
            vectors=0 if index is None else index.count,
            index_bytes=self.holder.file_bytes,
            deleted_slots=self.holder.deleted,
            queue=len(self.queue),
            indexing=self.indexer.busy or len(self.queue) > 0,
            embedding_rate=round(self.indexer.rate.value, 2),
            last_change=self.indexer.last_change,
        )

    # -- reindexing --

    async def reindex(self, paths: list[str] | None, sources: list[str] | None) -> Scan:
        """Everything is checked before anything changes: a refusal leaves the sources as
        they were."""
        self.require()
        new = None if sources is None else await self._checked_sources(sources)
        roots = self._sources if new is None else new
        targets = roots
        if paths is not None:
            targets = [_absolute(p, "paths") for p in paths]
            outside = [p for p in targets if not within(p, roots)]
            if outside:
                raise BadRequest(
                    f"not within this node's sources: {', '.join(outside)}",
                    code="PATH_OUTSIDE_SOURCES",
                    details={"paths": outside, "sources": roots},
                )
        scan = Scan()
        if new is not None:
            await self._set_sources(new, scan)
        for target in targets:
            is_file = await anyio.to_thread.run_sync(os.path.isfile, target)
            self.queue.put(target, [scan], seen=is_file)
        scan.walking = False
        scan.settle()
        self.ctx.spawn("brain.progress", lambda: self._report(scan))
        return scan

    async def _checked_sources(self, sources: list[str]) -> list[str]:
        absolute = [_absolute(p, "sources") for p in sources]
        home = str(self.ctx.settings.home.resolve())
        private = [p for p in absolute if within(p, [home])]
        if private:
            raise BadRequest(
                f"the agent's own data folder is never indexed: {', '.join(private)}",
                code="INVALID_PATH",
                details={"paths": private},
            )
        missing = [p for p in absolute if not await anyio.to_thread.run_sync(os.path.exists, p)]
        if missing:
            raise BadRequest(
                f"no such file or folder: {', '.join(missing)}",
                code="SOURCE_NOT_FOUND",
                details={"paths": missing},
            )
        return list(dict.fromkeys(absolute))

    async def _set_sources(self, sources: list[str], scan: Scan) -> None:
        dropped = [p for p in self._sources if p not in sources]
        self._sources = sources
        await self.store.set_meta("sources", json.dumps(sources))
        for path in dropped:
            # No longer within the sources: what it held leaves the index.
            self.queue.put(path, [scan], seen=False)
        self.watcher.sources_changed()

    async def _report(self, scan: Scan) -> None:
        async for progress in scan.follow(PROGRESS_S):
            self.ctx.bus.publish(BRAIN_REINDEX, progress)

    # -- search --

    async def search(
        self, query: str, k: int, mode: SearchMode, path: str | None, node: str | None
    ) -> BrainSearchAnswer:
        began = time.perf_counter()
        hits, searched, not_searched = await self.cluster_search.search(query, k, mode, path, node)
        return BrainSearchAnswer(
            query=query,
            mode=mode,
            k=k,
            hits=hits,
            count=len(hits),
            searched=searched,
            not_searched=not_searched,
            took_ms=round((time.perf_counter() - began) * 1000, 2),
        )

    async def local_search(
        self, query: str, k: int, mode: SearchMode, path: str | None
    ) -> list[BrainHit]:
        self.require()
        try:
            return await self.cluster_search.local.search(query, k, mode, path)
        except Unavailable as exc:
            raise unavailable(str(exc)) from exc

    async def retrieve(
        self, query: str, *, k: int, path: str | None = None, node: str | None = None
    ) -> list[Passage]:
        answer = await self.search(query, k, "hybrid", path, node)
        return [
            Passage(
                node_id=h.node_id,
                node_name=h.node_name,
                path=h.path,
                start_line=h.start_line,
                end_line=h.end_line,
                heading=tuple(h.heading),
                score=h.score,
                text=h.text,
            )
            for h in answer.hits
        ]

    # -- forgetting --

    async def forget(self, content_hash: str) -> BrainForgotten:
        removed = await self.store.forget(content_hash, time.time())
        if not removed:
            raise NotFound(
                f"no indexed file has the content hash {content_hash}", code="HASH_NOT_FOUND"
            )
        for gone in removed:
            await self.holder.change(gone.ids, [], None)
            self.ctx.bus.publish(
                BRAIN_REMOVED,
                FileRemoved(
                    path=gone.path, content_hash=content_hash, chunks=len(gone.ids), why="forgotten"
                ),
            )
        await self.holder.settle()
        return BrainForgotten(
            content_hash=content_hash,
            paths=[g.path for g in removed],
            chunks=sum(len(g.ids) for g in removed),
        )


def _absolute(path: str, field: str) -> str:
    if not os.path.isabs(path) or "\0" in path:
        raise BadRequest(
            f"{field} must be absolute paths on this node, got {path!r}", code="INVALID_PATH"
        )
    return os.path.normpath(path)
