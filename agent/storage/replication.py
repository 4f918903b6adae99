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

from agent.cluster.membership import ONLINE, Membership
from agent.cluster.store import Member
from agent.core.subsystem import Context
from agent.peer.client import PeerClient, PeerUnreachable
from agent.storage.chunks import ChunkStore
from agent.storage.manifest import Manifest
from agent.storage.store import StorageStore

log = logging.getLogger("openfabric.storage")


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
        }

    async def merge(self, data: dict[str, Any]) -> list[Manifest]:
        """Take newer manifests and new holder records; answers the manifests taken."""
        taken = []
        for item in data.get("manifests", []):
            manifest = Manifest.from_wire(item)
            if await self.store.save_if_newer(manifest):
                taken.append(manifest)
        pairs = [
            (str(d), str(n))
            for d, n in data.get("holders", [])
            if self.membership.members.get(str(n)) is not None
            and self.membership.members[str(n)].status == "member"
        ]
        await self.store.add_holders(pairs)
        return taken

    async def announce(self, manifests: list[Manifest], holders: list[tuple[str, str]]) -> None:
        payload = {
            "manifests": [m.as_wire() for m in manifests],
            "holders": [list(p) for p in holders],
        }
        await asyncio.gather(
            *(self._send(m, "/peer/storage/manifests", payload) for m in self.membership.peers())
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
                    await self.merge(theirs)
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
        try:
            data = response.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
