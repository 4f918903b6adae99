"""Fabric Brain calls (retrieval over the cluster's documents), mixed into `AgentClient`.

    async with AgentClient(*discover()) as client:
        found = await client.brain_search("how do I join a node", k=5)
        for hit in found.hits:
            print(f"{hit.score:.3f} {hit.node_name} {hit.path}:{hit.start_line}")
        async for step in client.brain_reindex():
            print(step.files_done, step.files_seen, step.chunks_embedded)

`brain_reindex` is a Server-Sent Events stream the agent answers the POST with: `progress`
events, then one `done` (also yielded, with `done=True`). An `error` event raises `ApiError`
with its code; a stream that ends before `done` raises `StreamEndedEarly`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from agent.brain.models import (
    BrainForgotten,
    BrainSearchAnswer,
    BrainStatus,
    ReindexProgress,
    SearchMode,
)
from agent.client.errors import ApiError
from agent.client.transport import ENCODING_TIMEOUT, Transport

StrPath = str | os.PathLike[str]


def _paths(values: Iterable[StrPath] | None) -> list[str] | None:
    return None if values is None else [os.fspath(v) for v in values]


class BrainMixin(Transport):
    async def brain_status(self) -> BrainStatus:
        """This node's index: sources, counts, skipped files, the model, the queue."""
        return await self._get_model("/api/brain/status", BrainStatus)

    async def brain_search(
        self,
        q: str,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        node: str | None = None,
        path: str | None = None,
    ) -> BrainSearchAnswer:
        """The `k` best chunks for `q` over the whole cluster (only `node`'s index when
        given, only files under the `path` prefix when given), best first.

        Refusals: VALIDATION_ERROR (empty `q`, `k` outside 1..50, unknown `mode`),
        NODE_NOT_FOUND, BRAIN_UNAVAILABLE. Members that could not be asked are listed in
        `not_searched`, not raised.
        """
        params = {"q": q, "k": str(k), "mode": mode}
        if node is not None:
            params["node"] = node
        if path is not None:
            params["path"] = path
        response = await self._request(
            "GET", "/api/brain/search", params=params, timeout=ENCODING_TIMEOUT
        )
        return self._model(response, BrainSearchAnswer)

    async def brain_reindex(
        self,
        paths: Iterable[StrPath] | None = None,
        sources: Iterable[StrPath] | None = None,
    ) -> AsyncGenerator[ReindexProgress, None]:
        """Rescan this node's sources: all of them, only `paths` (absolute, each within a
        source), or, with `sources`, a new source list that replaces the current one (kept
        across restarts). Yields the scan's progress, ending with the `done` one.

        Refusals before the stream: INVALID_PATH (not absolute), PATH_OUTSIDE_SOURCES,
        SOURCE_NOT_FOUND, BRAIN_UNAVAILABLE.
        """
        body: dict[str, Any] = {}
        if (listed := _paths(paths)) is not None:
            body["paths"] = listed
        if (replacing := _paths(sources)) is not None:
            body["sources"] = replacing
        stream = self._stream(
            "POST",
            "/api/brain/reindex",
            "reindex",
            json_body=body,
            until="done",
            unfinished="the scan was done",
        )
        async with aclosing(stream):
            async for event in stream:
                if event.topic not in ("progress", "done"):
                    continue
                try:
                    step = ReindexProgress.model_validate(event.data)
                except ValidationError:
                    raise ApiError(
                        200,
                        "INVALID_RESPONSE",
                        f"the agent at {self.base_url} sent a reindex {event.topic} event "
                        "that is not a ReindexProgress",
                    ) from None
                yield step
                if event.topic == "done":
                    return

    async def brain_forget(self, content_hash: str) -> BrainForgotten:
        """Drop every chunk of the files whose SHA-256 is `content_hash` from this node's
        index; answers the paths and chunk count that left (INVALID_HASH, HASH_NOT_FOUND)."""
        path = f"/api/brain/index/{quote(content_hash, safe='')}"
        return self._model(await self._request("DELETE", path), BrainForgotten)
