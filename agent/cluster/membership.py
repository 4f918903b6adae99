"""Who is in the cluster (persisted) and who is alive (in memory).

Membership is a table of `Member` entries merged by (rev, status): any member may change an
entry by raising its rev, every change is pushed to all members, and heartbeats compare a
digest of the table so anything missed is repaired by a full exchange. Left and evicted
entries are kept as tombstones so they are never resurrected by a stale copy.

Liveness is per member: `heard_from` marks it online; `check_liveness` turns silence into
suspect (after `suspect_after`) and offline (after `offline_after`).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agent.cluster import events
from agent.cluster.store import EVICTED, LEFT, MEMBER, ClusterStore, Member
from agent.core.subsystem import Context
from agent.peer.addresses import local_addresses
from agent.peer.client import PeerTarget

ONLINE, SUSPECT, OFFLINE = "online", "suspect", "offline"


@dataclass
class Liveness:
    state: str = OFFLINE
    last_seen: float = 0.0
    heard_at: float | None = None
    telemetry: dict[str, Any] | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    observed: tuple[str, ...] = ()


class Membership:
    def __init__(self, ctx: Context, store: ClusterStore) -> None:
        self.ctx = ctx
        self.store = store
        self.members: dict[str, Member] = {}
        self.cluster_id: str | None = None
        self.live: dict[str, Liveness] = {}
        self.on_cluster_change: Callable[[], Awaitable[None]] | None = None

    async def _cluster_changed(self) -> None:
        if self.on_cluster_change is not None:
            await self.on_cluster_change()

    @property
    def node_id(self) -> str:
        return self.ctx.identity.node_id

    async def load(self) -> None:
        self.members = {m.node_id: m for m in await self.store.members()}
        self.cluster_id = await self.store.cluster_id()
        for node_id, seen in (await self.store.last_seen()).items():
            self.live[node_id] = Liveness(last_seen=seen)
        await self.refresh_self()

    def describe_self(self, previous: Member | None) -> Member:
        identity, settings, now = self.ctx.identity, self.ctx.settings, self.ctx.clock()
        return Member(
            node_id=identity.node_id,
            name=settings.node_name or _hostname(),
            public_key=identity.public_key_b64,
            fingerprint=identity.fingerprint,
            cert_pem=identity.tls_cert_path.read_text(),
            addresses=local_addresses(settings.advertise_address),
            peer_port=settings.peer_port,
            version=self.ctx.version,
            status=MEMBER,
            rev=previous.rev if previous else 1,
            joined_at=previous.joined_at if previous else now,
            updated_at=previous.updated_at if previous else now,
        )

    async def refresh_self(self) -> bool:
        """Re-describe this node (address, port, name, version); bump and save if changed."""
        previous = self.members.get(self.node_id)
        current = self.describe_self(previous)
        if previous is not None and _same_facts(previous, current) and previous.status == MEMBER:
            return False
        if previous is not None:
            current = previous.bumped(self.ctx.clock(), **_facts(current), status=MEMBER)
        await self._store([current])
        return True

    def me(self) -> Member:
        return self.members[self.node_id]

    def in_cluster(self) -> bool:
        return self.cluster_id is not None and any(
            m.status == MEMBER for m in self.members.values() if m.node_id != self.node_id
        )

    def active(self) -> list[Member]:
        return [m for m in self.members.values() if m.status == MEMBER]

    def peers(self) -> list[Member]:
        return [m for m in self.active() if m.node_id != self.node_id]

    def key_of(self, node_id: str) -> tuple[str, str] | None:
        member = self.members.get(node_id)
        if member is None or node_id == self.node_id:
            return None
        return member.public_key, member.status

    def target(self, member: Member) -> PeerTarget:
        observed = self.live.get(member.node_id, Liveness()).observed
        addresses = tuple(dict.fromkeys((*observed, *member.addresses)))
        return PeerTarget(member.node_id, addresses, member.peer_port, member.cert_pem)

    def version(self) -> int:
        return sum(m.rev for m in self.members.values())

    def digest(self) -> str:
        parts = sorted(f"{m.node_id}:{m.rev}:{m.status}" for m in self.members.values())
        return hashlib.sha256("|".join([self.cluster_id or "", *parts]).encode()).hexdigest()

    def wire(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "version": self.version(),
            "members": [m.as_wire() for m in self.members.values()],
        }

    async def ensure_cluster_id(self) -> str:
        if self.cluster_id is None:
            self.cluster_id = secrets.token_hex(8)
            await self.store.set_cluster_id(self.cluster_id)
            await self._cluster_changed()
        return self.cluster_id

    async def adopt_cluster(self, cluster_id: str) -> None:
        self.cluster_id = cluster_id
        await self.store.set_cluster_id(cluster_id)
        await self._cluster_changed()

    async def change(self, member: Member) -> None:
        """A local decision about one entry (join, leave, evict): saved and announced."""
        await self._store([member])
        self._announce(None, member)

    async def merge(self, incoming: list[Member]) -> list[Member]:
        """Take every entry that supersedes ours; answers the entries that changed."""
        changed: list[Member] = []
        for member in incoming:
            ours = self.members.get(member.node_id)
            if ours is None or member.supersedes(ours):
                changed.append(member)
        if not changed:
            return []
        mine = next((m for m in changed if m.node_id == self.node_id), None)
        if mine is not None and mine.status != MEMBER:
            await self.become_lone(mine)
            return changed
        previous = {m.node_id: self.members.get(m.node_id) for m in changed}
        await self._store(changed)
        for member in changed:
            self._announce(previous[member.node_id], member)
        return changed

    async def become_lone(self, final: Member) -> None:
        """This node left or was evicted: forget the cluster, keep the identity."""
        # Keep the rev: the old cluster's tombstone (same or higher rev, more final status)
        # must keep winning should this entry ever reach it again.
        me = self.members[self.node_id]
        self.members = {self.node_id: replace(me, status=MEMBER)}
        self.cluster_id = None
        self.live = {}
        await self.store.reset(self.members[self.node_id])
        await self._cluster_changed()
        topic = events.NODE_EVICTED if final.status == EVICTED else events.NODE_LEFT
        self.ctx.bus.publish(topic, {"node_id": self.node_id, "name": me.name, "self": True})

    def heard_from(
        self,
        node_id: str,
        telemetry: dict[str, Any] | None,
        observed: str | None = None,
        capabilities: dict[str, Any] | None = None,
    ) -> None:
        member = self.members.get(node_id)
        if member is None or member.status != MEMBER:
            return
        live = self.live.setdefault(node_id, Liveness())
        live.heard_at = time.monotonic()
        live.last_seen = self.ctx.clock()
        if telemetry is not None:
            live.telemetry = telemetry
        if isinstance(capabilities, dict):
            live.capabilities = capabilities
        if observed and observed not in member.addresses:
            live.observed = (observed,)
        if live.state != ONLINE:
            live.state = ONLINE
            self._publish(events.NODE_ONLINE, member)

    def check_liveness(self) -> list[Member]:
        """Demote silent members; answers those that just went offline."""
        now = time.monotonic()
        settings = self.ctx.settings
        offline: list[Member] = []
        for member in self.peers():
            live = self.live.setdefault(member.node_id, Liveness())
            silence = now - live.heard_at if live.heard_at is not None else float("inf")
            state = (
                ONLINE
                if silence < settings.suspect_after
                else SUSPECT
                if silence < settings.offline_after
                else OFFLINE
            )
            if state == live.state or (state == SUSPECT and live.state == OFFLINE):
                continue
            live.state = state
            self._publish(events.NODE_SUSPECT if state == SUSPECT else events.NODE_OFFLINE, member)
            if state == OFFLINE:
                offline.append(member)
        return offline

    def state_of(self, node_id: str) -> str:
        if node_id == self.node_id:
            return ONLINE
        return self.live.get(node_id, Liveness()).state

    def set_observed(self, node_id: str, addresses: tuple[str, ...]) -> None:
        self.live.setdefault(node_id, Liveness()).observed = addresses

    async def _store(self, members: list[Member]) -> None:
        await self.store.save(members)
        for member in members:
            self.members[member.node_id] = member

    def _announce(self, previous: Member | None, member: Member) -> None:
        was = previous.status if previous else None
        if member.status == MEMBER and was != MEMBER:
            self._publish(events.NODE_JOINED, member)
        elif member.status == LEFT and was != LEFT:
            self.live.pop(member.node_id, None)
            self._publish(events.NODE_LEFT, member)
        elif member.status == EVICTED and was != EVICTED:
            self.live.pop(member.node_id, None)
            self._publish(events.NODE_EVICTED, member)

    def _publish(self, topic: str, member: Member) -> None:
        self.ctx.bus.publish(
            topic,
            {
                "node_id": member.node_id,
                "name": member.name,
                "status": member.status,
                "state": self.state_of(member.node_id),
                "addresses": list(member.addresses),
                "self": member.node_id == self.node_id,
            },
        )


def _facts(member: Member) -> dict[str, Any]:
    return {
        "name": member.name,
        "public_key": member.public_key,
        "fingerprint": member.fingerprint,
        "cert_pem": member.cert_pem,
        "addresses": member.addresses,
        "peer_port": member.peer_port,
        "version": member.version,
    }


def _same_facts(a: Member, b: Member) -> bool:
    return _facts(a) == _facts(b)


def _hostname() -> str:
    import socket

    return socket.gethostname()
