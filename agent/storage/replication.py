"""Moving chunks and manifests between members.

A chunk travels as the body of a signed peer request whose declared body digest is the chunk's
own name, so the receiver's signature check is also its integrity check. Manifests and holder
records are pushed to every member on each change, and a sync pass compares digests with every
online member so anything missed converges.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio.to_thread
from pydantic import ValidationError

from agent.cluster.membership import ONLINE, Membership
from agent.cluster.store import Member
from agent.core.http import peer_answer
from agent.core.subsystem import Context
from agent.peer.client import PeerClient, PeerUnreachable
from agent.storage.chunks import ChunkStore
from agent.storage.manifest import Manifest
from agent.storage.models import PushBody
from agent.storage.store import StorageStore

log = logging.getLogger("openfabric.storage")
# Members' clocks agree to within the peer signature window (60 s); this leaves room for a
# manifest relayed a while after a skewed member wrote it.
MAX_FUTURE_S = 300.0


def table_digest(manifests: Iterable[Manifest], holders: Iterable[tuple[str, str]]) -> str:
    hasher = hashlib.sha256()
    for m in sorted(manifests, key=lambda m: m.path):
        hasher.update(f"{m.path}\0{m.modified!r}\0{m.writer}\0{int(m.deleted)}\n".encode())
    for digest, node in sorted(holders):
        hasher.update(f"{digest}:{node}\n".encode())
    return hasher.hexdigest()


class Replicator:
    def __init__(
        self,
        ctx: Context,
        membership: Membership,
        peers: PeerClient,
        chunks: ChunkStore,
        store: StorageStore,
    ) -> None:
        self.ctx = ctx
        self.membership = membership
        self.peers = peers
        self.chunks = chunks
        self.store = store
        self.refused = ctx.metrics.counter(
            "storage_manifests_refused_total", "Pushed manifests ignored as implausible"
        )

    @property
    def me(self) -> str:
        return self.membership.node_id

    def online_members(self) -> list[Member]:
        return [
            m for m in self.membership.active() if self.membership.state_of(m.node_id) == ONLINE
        ]

    def free_space(self, node_id: str) -> int:
        if node_id == self.me:
            value = self.ctx.capabilities.get("storage_free", 0)
        else:
            live = self.membership.live.get(node_id)
            value = live.capabilities.get("storage_free", 0) if live else 0
        return int(value) if isinstance(value, int | float) else 0

    def targets(self, count: int, exclude: set[str], size: int) -> list[str]:
        """Up to `count` online members with room for `size` bytes, most free space first."""
        candidates = [
            m.node_id
            for m in self.online_members()
            if m.node_id not in exclude and self.free_space(m.node_id) >= size
        ]
        candidates.sort(key=lambda n: (-self.free_space(n), n))
        return candidates[:count]

    async def push(self, node_id: str, digest: str, data: bytes) -> bool:
        if node_id == self.me:
            await anyio.to_thread.run_sync(self.chunks.put, digest, data)
            return True
        member = self.membership.members.get(node_id)
        if member is None:
            return False

        async def body() -> AsyncIterator[bytes]:
            yield data

        try:
            async with self.peers.stream(
                self.membership.target(member),
                "PUT",
                f"/peer/storage/chunks/{digest}",
                content=body(),
                content_sha256=digest,
                timeout=60,
            ) as response:
                await response.aread()
                ok = response.status_code == 200
        except (PeerUnreachable, OSError) as exc:
            log.info("could not copy chunk %s to %s: %s", digest[:12], node_id, exc)
            return False
        if not ok:
            log.info("%s refused chunk %s: %s", node_id, digest[:12], response.status_code)
        return ok

    async def fetch(self, digest: str, holders: Iterable[str]) -> bytes | None:
        """The chunk from any online holder but this node, verified; None if none has it."""
        for node_id in holders:
            member = self.membership.members.get(node_id)
            if node_id == self.me or member is None or self.membership.state_of(node_id) != ONLINE:
                continue
            try:
                response = await self.peers.request(
                    self.membership.target(member),
                    "GET",
                    f"/peer/storage/chunks/{digest}",
                    timeout=60,
                )
            except PeerUnreachable:
                continue
            if (
                response.status_code == 200
                and hashlib.sha256(response.content).hexdigest() == digest
            ):
                return response.content
        return None

    async def snapshot(self) -> dict[str, Any]:
        manifests = await self.store.all()
        holders = await self.store.all_holders()
        return {
            "digest": table_digest(manifests, holders),
            "manifests": [m.as_wire() for m in manifests],
            "holders": [list(pair) for pair in holders],
            "complete": True,
        }

    async def merge(self, body: PushBody, sender: str) -> list[Manifest]:
        """Take newer plausible manifests and holder records from `sender`; answers the
        manifests taken.

        Holder records follow real copies: this node's own come only from its disk, a
        complete table's records about its sender replace what was known of the sender, and
        a claim about a third node is taken only from a push right after the copy it reports
        (the node that made it had the receiver's answer), never relayed from a table."""
        taken = []
        for item in body.manifests:
            manifest = item.to_manifest()
            problem = self._implausible(manifest)
            if problem:
                self.refused.inc()
                log.warning("ignoring manifest of %r from %s: %s", manifest.path, sender, problem)
            elif await self.store.save_if_newer(manifest):
                taken.append(manifest)
        current = {n for n, m in self.membership.members.items() if m.status == "member"}
        pairs = [(d, n) for d, n in body.holders if n in current and n != self.me]
        if body.complete:
            if sender in current and sender != self.me:
                await self.store.replace_holdings(sender, [d for d, n in pairs if n == sender])
        else:
            await self.store.add_holders(pairs)
        return taken

    def _implausible(self, manifest: Manifest) -> str | None:
        if manifest.modified > self.ctx.clock() + MAX_FUTURE_S:
            # A stamp from the future would win over every later write of the path.
            return "its timestamp is in the future"
        if manifest.writer != self.me and manifest.writer not in self.membership.members:
            return "its writer is not a node of this cluster"
        return None

    async def announce(self, manifests: list[Manifest], holders: list[tuple[str, str]]) -> None:
        payload = {
            "manifests": [m.as_wire() for m in manifests],
            "holders": [list(p) for p in holders],
        }
        await asyncio.gather(
            *(self._send(m, "/peer/storage/manifests", payload) for m in self.membership.peers())
        )

    async def keep_pinned(self, holders: list[tuple[str, str]]) -> None:
        """Ask each member that took chunks of an upload in progress to keep them pinned."""
        by_node: dict[str, list[str]] = {}
        for digest, node in holders:
            if node != self.me:
                by_node.setdefault(node, []).append(digest)
        members = [(self.membership.members.get(n), d) for n, d in by_node.items()]
        await asyncio.gather(
            *(
                self._send(member, "/peer/storage/pins", {"digests": digests})
                for member, digests in members
                if member is not None
            )
        )

    async def sync_all(self) -> None:
        mine = await self.snapshot()
        for member in self.membership.peers():
            if self.membership.state_of(member.node_id) != ONLINE:
                continue
            answer = await self._send(member, "/peer/storage/sync", {"digest": mine["digest"]})
            if answer is not None and answer.get("digest") != mine["digest"]:
                theirs = await self._send(member, "/peer/storage/manifests", mine)
                if theirs:
                    try:
                        table = PushBody.model_validate(theirs)
                    except ValidationError as exc:
                        log.warning("%s answered a malformed table: %s", member.node_id, exc)
                        continue
                    await self.merge(table, member.node_id)
                mine = await self.snapshot()

    async def _send(
        self, member: Member, path: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        try:
            response = await self.peers.request(
                self.membership.target(member), "POST", path, json_body=payload, timeout=30
            )
        except PeerUnreachable:
            return None
        if response.status_code != 200:
            return None
        return peer_answer(response.content)
