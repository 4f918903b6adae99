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

from agent.core.cluster import MemberView
from agent.core.http import peer_answer
from agent.core.subsystem import Context
from agent.peer.client import PeerClient, PeerUnreachable
from agent.storage.chunks import ChunkStore
from agent.storage.events import STORAGE_SYNCED, SYNCED_PATHS, FilesSynced
from agent.storage.manifest import Manifest
from agent.storage.requests import PushBody
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
        chunks: ChunkStore,
        store: StorageStore,
    ) -> None:
        self.ctx = ctx
        self.cluster = ctx.cluster
        self.peers: PeerClient = ctx.peers
        self.chunks = chunks
        self.store = store
        self.refused = ctx.metrics.counter(
            "storage_manifests_refused_total", "Pushed manifests ignored as implausible"
        )

    @property
    def me(self) -> str:
        return self.cluster.node_id

    def other_members(self) -> list[MemberView]:
        """Every member but this node, whatever its liveness."""
        return [m for m in self.cluster.members() if not m.is_self]

    def online_members(self) -> list[MemberView]:
        return [m for m in self.cluster.members() if m.online]

    def free_space(self, node_id: str) -> int:
        member = self.cluster.member(node_id)
        return (member.capabilities.storage_free or 0) if member else 0

    def targets(self, count: int, exclude: set[str], size: int) -> list[str]:
        """Up to `count` online members with room for `size` bytes, most free space first."""
        return self._candidates(exclude, size)[:count]

    def _candidates(self, exclude: set[str], size: int) -> list[str]:
        candidates = [
            m.node_id
            for m in self.online_members()
            if m.node_id not in exclude and self.free_space(m.node_id) >= size
        ]
        candidates.sort(key=lambda n: (-self.free_space(n), n))
        return candidates

    async def spread(self, digest: str, data: bytes, count: int, exclude: set[str]) -> list[str]:
        """Copies a chunk to `count` members (the roomiest first, concurrently); a member that
        fails is replaced by the next candidate, so one refusal or dropped connection does not
        leave the chunk short of a copy while another member has room. Answers who stored it."""
        candidates = self._candidates(exclude, len(data))
        first, spare = candidates[:count], candidates[count:]
        results = await asyncio.gather(*(self.push(n, digest, data) for n in first))
        stored = [node for node, ok in zip(first, results, strict=True) if ok]
        for node in spare:
            if len(stored) >= count:
                break
            if await self.push(node, digest, data):
                stored.append(node)
        return stored

    async def push(self, node_id: str, digest: str, data: bytes) -> bool:
        if node_id == self.me:
            await anyio.to_thread.run_sync(self.chunks.put, digest, data)
            return True
        member = self.cluster.member(node_id)
        if member is None:
            return False

        async def body() -> AsyncIterator[bytes]:
            yield data

        try:
            async with self.peers.stream(
                member.target,
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
            member = self.cluster.member(node_id)
            if node_id == self.me or member is None or not member.online:
                continue
            try:
                response = await self.peers.request(
                    member.target,
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
        if taken:
            synced = FilesSynced(
                sender=sender,
                count=len(taken),
                paths=[m.path for m in taken[:SYNCED_PATHS]],
            )
            self.ctx.bus.publish(STORAGE_SYNCED, synced)
        current = {m.node_id for m in self.cluster.members()}
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
        if manifest.writer != self.me and not self.cluster.ever_known(manifest.writer):
            return "its writer is not a node of this cluster"
        return None

    async def announce(self, manifests: list[Manifest], holders: list[tuple[str, str]]) -> None:
        payload = {
            "manifests": [m.as_wire() for m in manifests],
            "holders": [list(p) for p in holders],
        }
        await asyncio.gather(
            *(self._send(m, "/peer/storage/manifests", payload) for m in self.other_members())
        )

    async def keep_pinned(self, holders: list[tuple[str, str]]) -> None:
        """Ask each member that took chunks of an upload in progress to keep them pinned."""
        by_node: dict[str, list[str]] = {}
        for digest, node in holders:
            if node != self.me:
                by_node.setdefault(node, []).append(digest)
        members = [(self.cluster.member(n), d) for n, d in by_node.items()]
        await asyncio.gather(
            *(
                self._send(member, "/peer/storage/pins", {"digests": digests})
                for member, digests in members
                if member is not None
            )
        )

    async def sync_all(self) -> None:
        mine = await self.snapshot()
        for member in self.other_members():
            if not member.online:
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

    async def pull(self, member: MemberView, digest: str, timeout: float) -> bool:
        """Take what is newer in `member`'s table (tombstones included), sending nothing of
        this node's; False if it did not answer. `digest` is this node's table digest."""
        answer = await self._send(member, "/peer/storage/sync", {"digest": digest}, timeout)
        if answer is None:
            return False
        if answer.get("digest") == digest:
            return True
        theirs = await self._send(member, "/peer/storage/manifests", {}, timeout)
        if theirs is None:
            return False
        try:
            table = PushBody.model_validate(theirs)
        except ValidationError as exc:
            log.warning("%s answered a malformed table: %s", member.node_id, exc)
            return False
        await self.merge(table, member.node_id)
        return True

    async def _send(
        self, member: MemberView, path: str, payload: dict[str, Any], timeout: float = 30
    ) -> dict[str, Any] | None:
        try:
            response = await self.peers.request(
                member.target, "POST", path, json_body=payload, timeout=timeout
            )
        except PeerUnreachable:
            return None
        if response.status_code != 200:
            return None
        return peer_answer(response.content)
