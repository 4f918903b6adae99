"""Fabric Memory calls (the facts the assistant remembers, cluster-wide), mixed into
`AgentClient`.

    async with AgentClient(*discover()) as client:
        added = await client.memory_add("My editor is vim", key="user.editor")
        print(added.outcome, added.fact.id)
        for hit in (await client.memory_search("which editor", k=3)).hits:
            print(f"{hit.score:.3f} {hit.fact.text}")

A fact added with the key of an active one supersedes it (kept in history, listed with
`include_superseded=True`); the same fact added twice is answered as `existing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from agent.client.transport import ENCODING_TIMEOUT, Transport
from agent.memory.models import (
    AddFactAnswer,
    FactList,
    FactRemoved,
    FactsCleared,
    FactSearchAnswer,
)


class MemoryMixin(Transport):
    async def memory_list(self, include_superseded: bool = False) -> FactList:
        """The active facts, newest first; with `include_superseded`, the replaced ones too
        (each naming the fact that replaced it in `superseded_by`)."""
        params = {"include_superseded": "true"} if include_superseded else None
        response = await self._request("GET", "/api/memory", params=params)
        return self._model(response, FactList)

    async def memory_add(
        self, text: str, key: str | None = None, tags: Iterable[str] = ()
    ) -> AddFactAnswer:
        """Remember `text` (by hand: source `manual`). The answer's `outcome` says what
        happened: `created`, `existing` (the same fact was active; nothing changed) or
        `superseded` (it replaced the active facts listed in `superseded`).

        Refusals: VALIDATION_ERROR (empty or too long text, a key that is not a name, too
        many or too long tags), MEMORY_FULL.
        """
        body: dict[str, Any] = {"text": text, "tags": list(tags)}
        if key is not None:
            body["key"] = key
        return self._model(
            await self._request("POST", "/api/memory", json_body=body, timeout=ENCODING_TIMEOUT),
            AddFactAnswer,
        )

    async def memory_remove(self, fact_id: str) -> FactRemoved:
        """Delete one fact (active or in history) on every member (FACT_NOT_FOUND)."""
        path = f"/api/memory/{quote(fact_id, safe='')}"
        return self._model(await self._request("DELETE", path), FactRemoved)

    async def memory_clear(self) -> FactsCleared:
        """Delete every fact, history included, on every member. Sends the confirmation the
        agent asks for (without it the agent refuses CONFIRMATION_REQUIRED)."""
        params = {"confirm": "true"}
        return self._model(
            await self._request("DELETE", "/api/memory", params=params), FactsCleared
        )

    async def memory_search(self, q: str, k: int = 10) -> FactSearchAnswer:
        """The `k` active facts most similar in meaning to `q`, best first, with scores.

        Refusals: VALIDATION_ERROR (empty `q`, `k` outside 1..50), MEMORY_UNAVAILABLE (no
        embedding model on this node).
        """
        params = {"q": q, "k": str(k)}
        response = await self._request(
            "GET", "/api/memory/search", params=params, timeout=ENCODING_TIMEOUT
        )
        return self._model(response, FactSearchAnswer)
