"""One search across the cluster: this node's index and every online member's, asked over
the peer channel (`POST /peer/brain/search`) at once, merged best first with each hit named
by its node. A member that is not online, or does not answer in time, is named in the answer
as not searched, with the reason; the rest of the answer still comes.

A member's answer is a claim from a node that may be compromised: it is read up to a byte
bound, validated, cut to `k` hits and each hit is attributed to that member whatever it says.
"""

from __future__ import annotations

import math

import anyio
import httpx
from pydantic import ValidationError

from agent.brain.models import (
    BrainHit,
    NotSearched,
    PeerSearchAnswer,
    PeerSearchBody,
    SearchMode,
)
from agent.brain.search import LocalSearch, fuse_hits
from agent.core.cluster import ClusterView, MemberView
from agent.core.errors import NotFound
from agent.peer.client import PeerClient, PeerUnreachable

PATH = "/peer/brain/search"
TIMEOUT_S = 8.0
# k hits of a whole chunk each (about 1,000 characters, JSON-escaped at worst 6x).
MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_TEXT = 8000


class MemberFailed(Exception):
    pass


class ClusterSearch:
    def __init__(self, local: LocalSearch, cluster: ClusterView, peers: PeerClient) -> None:
        self.local = local
        self.cluster = cluster
        self.peers = peers

    async def search(
        self, query: str, k: int, mode: SearchMode, path: str | None, node: str | None
    ) -> tuple[list[BrainHit], list[str], list[NotSearched]]:
        members = self.cluster.members()
        if node is not None:
            members = [m for m in members if m.node_id == node]
            if not members:
                raise NotFound(f"no member {node} in this cluster", code="NODE_NOT_FOUND")
        hits: list[BrainHit] = []
        searched: list[str] = []
        skipped: list[NotSearched] = []
        ask = PeerSearchBody(q=query, k=k, mode=mode, path=path)

        async def one(member: MemberView) -> None:
            try:
                found = (
                    await self.local.search(query, k, mode, path)
                    if member.is_self
                    else await self._ask(member, ask)
                )
            except MemberFailed as exc:
                skipped.append(
                    NotSearched(node_id=member.node_id, name=member.name, reason=str(exc))
                )
                return
            hits.extend(found)
            searched.append(member.node_id)

        async with anyio.create_task_group() as tg:
            for member in members:
                if member.is_self or member.online:
                    tg.start_soon(one, member)
                else:
                    skipped.append(
                        NotSearched(node_id=member.node_id, name=member.name, reason=member.state)
                    )
        hits.sort(key=lambda h: (-h.score, h.node_id, h.path, h.start_line))
        if mode == "hybrid" and len(searched) > 1:
            hits = fuse_hits(hits, k)
        return hits[:k], sorted(searched), sorted(skipped, key=lambda s: s.name)

    async def _ask(self, member: MemberView, ask: PeerSearchBody) -> list[BrainHit]:
        body = bytearray()
        try:
            with anyio.fail_after(TIMEOUT_S):
                async with self.peers.stream(
                    member.target, "POST", PATH, json_body=ask.model_dump(), timeout=TIMEOUT_S
                ) as response:
                    if response.status_code != 200:
                        raise MemberFailed(_refusal(response.status_code, await response.aread()))
                    async for block in response.aiter_bytes():
                        body += block
                        if len(body) > MAX_ANSWER_BYTES:
                            raise MemberFailed("its answer was too large")
        except TimeoutError:
            raise MemberFailed(f"no answer within {TIMEOUT_S:g} s") from None
        except (PeerUnreachable, httpx.HTTPError, OSError) as exc:
            raise MemberFailed(f"unreachable: {exc}") from exc
        try:
            answer = PeerSearchAnswer.model_validate_json(bytes(body))
        except ValidationError:
            raise MemberFailed("its answer was not a search answer") from None
        return [
            hit.model_copy(
                update={
                    "node_id": member.node_id,
                    "node_name": member.name,
                    "text": hit.text[:MAX_TEXT],
                    "snippet": hit.snippet[:MAX_TEXT],
                    "score": _finite(hit.score) or 0.0,
                    "similarity": _finite(hit.similarity),
                    "bm25": _finite(hit.bm25),
                }
            )
            for hit in answer.hits[: ask.k]
        ]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _refusal(status: int, raw: bytes) -> str:
    if status == 503:
        return "its brain is unavailable"
    return f"it answered HTTP {status}"
