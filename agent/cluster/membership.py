"""Who is in the cluster (persisted, self-certifying) and who is alive (in memory).

Membership is two sets of signed data, merged by union: records (founding, admissions,
evictions, leaves; see `ledger` for the rules that turn them into standings) and each
node's own entry (name, addresses, port, certificate, version), signed by that node, the
highest `seq` winning. Nothing a member pushes is taken on its word: every record and entry
is checked against the key its node id derives from, so a member can add only what it
could sign itself. Heartbeats compare a digest of both sets and repair any difference with
a full exchange.

Liveness (who is online, suspect, offline) is tracked in memory by `liveness`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pydantic import ValidationError

from agent.cluster import events
from agent.cluster.intake import Screened, screen
from agent.cluster.ledger import Standing, derive
from agent.cluster.liveness import OFFLINE, ONLINE, SUSPECT, Liveness, LivenessTracking
from agent.cluster.models import MAX_NODES, MAX_RECORDS, SignedNode, SignedRecord, Table
from agent.cluster.records import Node, Record, check_node, check_record, found
from agent.cluster.self_entry import describe_self
from agent.cluster.store import EVICTED, LEFT, MEMBER, ClusterStore, Member
from agent.core.subsystem import Context
from agent.peer.client import PeerTarget

log = logging.getLogger("openfabric.cluster")
__all__ = ["OFFLINE", "ONLINE", "SUSPECT", "Liveness", "Membership"]


class Membership(LivenessTracking):
    def __init__(self, ctx: Context, store: ClusterStore) -> None:
        self.ctx = ctx
        self.store = store
        self.members: dict[str, Member] = {}
        self.cluster_id: str | None = None
        self.records: dict[str, Record] = {}
        self.nodes: dict[str, Node] = {}
        self.standings: dict[str, Standing] = {}
        self.live: dict[str, Liveness] = {}
        self.on_cluster_change: Callable[[], Awaitable[None]] | None = None
        # Told whenever the member table is rebuilt (the heartbeat loop sleeps until then).
        self.on_members_changed: Callable[[], None] | None = None
        # Changes to the sets are applied one at a time (screening runs concurrently).
        self._lock = asyncio.Lock()
        self.refused = ctx.metrics.counter(
            "membership_refused_total", "Membership data refused from peers, by reason", ["reason"]
        )

    async def _cluster_changed(self) -> None:
        if self.on_cluster_change is not None:
            await self.on_cluster_change()

    def now_ms(self) -> int:
        return int(self.ctx.clock() * 1000)

    async def load(self) -> None:
        self.cluster_id = await self.store.cluster_id()
        for wire in await self.store.records():
            record = _parse(SignedRecord, wire, check_record)
            if record is not None:
                self.records[record.id] = record
        for wire in await self.store.nodes():
            node = _parse(SignedNode, wire, check_node)
            if node is not None:
                self.nodes[node.node_id] = node
        self._rebuild()
        for node_id, seen in (await self.store.last_seen()).items():
            self.live[node_id] = Liveness(last_seen=seen)
        await self.refresh_self()
        own = self.standings.get(self.node_id)
        if self.cluster_id is not None and (own is None or own.status != MEMBER):
            # Stopped between recording its own leave or eviction and forgetting the cluster.
            await self._forget()

    async def refresh_self(self, at_least: int = 0) -> bool:
        """Re-describe this node (address, port, name, version); re-sign and save if changed
        (or if a copy of this node's entry with seq `at_least` is around)."""
        previous = self.nodes.get(self.node_id)
        current = describe_self(self.ctx, previous, self.now_ms(), at_least)
        if current is None:
            return False
        await self._save([], [current])
        return True

    def me(self) -> Member:
        return self.members[self.node_id]

    def in_cluster(self) -> bool:
        return self.cluster_id is not None and any(
            m.status == MEMBER for m in self.members.values() if m.node_id != self.node_id
        )

    def active(self) -> list[Member]:
        return [m for m in self.members.values() if m.status == MEMBER]

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
        return len(self.records) + sum(n.body.seq for n in self._shared_nodes())

    def digest(self) -> str:
        parts = sorted(self.records) + sorted(
            f"{n.node_id}:{n.body.seq}:{n.signature}" for n in self._shared_nodes()
        )
        return hashlib.sha256("|".join([self.cluster_id or "", *parts]).encode()).hexdigest()

    def wire(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "records": [r.wire() for r in self.records.values()],
            "nodes": [n.wire() for n in self._shared_nodes()],
        }

    def _shared_nodes(self) -> list[Node]:
        # Entries of nodes the records know nothing of are not passed on.
        return [n for n in self.nodes.values() if n.node_id in self.standings]

    async def ensure_cluster_id(self) -> str:
        """A lone node founds its cluster when it first invites someone."""
        if self.cluster_id is None:
            record = found(self.ctx.identity, self.now_ms())
            await self.store.adopt(record.body.cluster_id, self.node_id)
            self.cluster_id = record.body.cluster_id
            await self._save([record], [])
            await self._cluster_changed()
        return self.cluster_id

    async def _screen(
        self,
        table: Table,
        records: dict[str, Record] | None = None,
        nodes: dict[str, Node] | None = None,
    ) -> Screened:
        # Off the event loop, against a snapshot: other merges may run meanwhile.
        screened = await asyncio.to_thread(
            screen,
            table,
            dict(self.records if records is None else records),
            dict(self.nodes if nodes is None else nodes),
        )
        for reason, count in screened.refused.items():
            self.refused.labels(reason).inc(count)
        return screened

    async def enter(self, table: Table, issuer: str, fingerprint: str) -> None:
        """Adopt the cluster of a join answer; refused unless the table admits this node and
        has the issuer, with the certificate the joiner pinned, as a member."""
        async with self._lock:
            # Judged against this node alone: what it held of another cluster does not count.
            screened = await self._screen(table, {}, {self.node_id: self.nodes[self.node_id]})
            standings = derive(table.cluster_id, screened.records)
            entries = {n.node_id: n for n in screened.nodes}
            own, by = standings.get(self.node_id), standings.get(issuer)
            if own is None or own.status != MEMBER:
                raise ValueError("the issuer's member table does not admit this node")
            if by is None or by.status != MEMBER or issuer not in entries:
                raise ValueError("the issuer is not a member of its own table")
            if entries[issuer].body.fingerprint != fingerprint:
                raise ValueError("the issuer's entry has another certificate than the token's")
            await self.store.adopt(table.cluster_id, self.node_id)
            self.cluster_id = table.cluster_id
            self.records, self.nodes = {}, {self.node_id: self.nodes[self.node_id]}
            await self._apply(screened.records, screened.nodes)
        await self._cluster_changed()

    async def merge(self, table: Table) -> bool:
        """Take whatever in `table` verifies and is new; True if anything changed."""
        if self.cluster_id is None or table.cluster_id != self.cluster_id:
            return False
        screened = await self._screen(table)
        async with self._lock:
            if table.cluster_id != self.cluster_id:
                return False  # this node left or was evicted while the table was screened
            return await self._apply(screened.records, screened.nodes)

    async def add(self, records: Iterable[Record], nodes: Iterable[Node] = ()) -> None:
        """A local decision (this node signed the records): saved and announced."""
        async with self._lock:
            await self._apply(list(records), list(nodes))

    def stage(self, record: Record) -> None:
        """Hold a record of this node's in memory only, to be pushed before the cluster is
        forgotten (a leave)."""
        self.records[record.id] = record

    async def _apply(self, records: list[Record], nodes: list[Node]) -> bool:
        # Screening saw a snapshot: drop what has arrived or been overtaken since.
        records = [r for r in records if r.id not in self.records]
        mine = next((n for n in nodes if n.node_id == self.node_id), None)
        nodes = [
            n
            for n in nodes
            if n.node_id != self.node_id
            and (n.node_id not in self.nodes or n.beats(self.nodes[n.node_id]))
        ]
        room = MAX_RECORDS - len(self.records)
        if len(records) > room or len(self.nodes) + len(nodes) > MAX_NODES:
            self.refused.labels("table_full").inc(max(0, len(records) - room))
            records = records[: max(0, room)]
            nodes = nodes[: max(0, MAX_NODES - len(self.nodes))]
        if mine is not None and mine.beats(self.nodes[self.node_id]):
            # A copy of this node's own entry newer than its database (restored or reset):
            # sign a newer one rather than let the old copy win.
            await self.refresh_self(at_least=mine.body.seq)
        if not records and not nodes:
            return False
        before = dict(self.members)
        await self._save(records, nodes)
        for member in self.members.values():
            self._announce(before.get(member.node_id), member)
        for node_id in before.keys() - self.members.keys():
            self._announce(before[node_id], None)
        own = self.standings.get(self.node_id)
        if self.cluster_id is not None and (own is None or own.status != MEMBER):
            await self.become_lone(own.status if own else LEFT)
        return True

    async def become_lone(self, status: str) -> None:
        """This node left or was evicted: forget the cluster, keep the identity."""
        me = self.me()
        await self._forget()
        await self._cluster_changed()
        topic = events.NODE_EVICTED if status == EVICTED else events.NODE_LEFT
        change = events.NodeChange(
            node_id=self.node_id,
            name=me.name,
            status=EVICTED if status == EVICTED else LEFT,
            state=ONLINE,
            addresses=list(me.addresses),
            self=True,
            at=self.ctx.clock(),
        )
        self.ctx.bus.publish(topic, change)

    async def _forget(self) -> None:
        self.cluster_id = None
        self.records = {}
        self.nodes = {self.node_id: self.nodes[self.node_id]}
        self.live = {}
        await self.store.reset(self.node_id)
        self._rebuild()

    async def _save(self, records: list[Record], nodes: list[Node]) -> None:
        await self.store.save(records, nodes)
        self.records.update((r.id, r) for r in records)
        self.nodes.update((n.node_id, n) for n in nodes)
        self._rebuild()

    def _rebuild(self) -> None:
        self.standings = derive(self.cluster_id, self.records.values()) if self.cluster_id else {}
        members: dict[str, Member] = {}
        for node_id, node in self.nodes.items():
            standing = self.standings.get(node_id)
            if node_id == self.node_id:
                members[node_id] = _member(node, MEMBER, standing)
            elif standing is not None:
                members[node_id] = _member(node, standing.status, standing)
        self.members = members
        if self.on_members_changed is not None:
            self.on_members_changed()

    def _announce(self, previous: Member | None, member: Member | None) -> None:
        was = previous.status if previous else None
        now = member.status if member else LEFT
        subject = member or previous
        if subject is None or now == was:
            return
        if now == MEMBER:
            self._publish(events.NODE_JOINED, subject)
            return
        self.live.pop(subject.node_id, None)
        self._publish(events.NODE_EVICTED if now == EVICTED else events.NODE_LEFT, subject)


def _member(node: Node, status: str, standing: Standing | None) -> Member:
    body = node.body
    return Member(
        node_id=body.node_id,
        name=body.name,
        public_key=body.public_key,
        fingerprint=body.fingerprint,
        cert_pem=body.cert_pem,
        addresses=tuple(body.addresses),
        peer_port=body.peer_port,
        version=body.version,
        status=status,
        rev=body.seq,
        joined_at=(standing.joined_at_ms if standing else body.at) / 1000,
        updated_at=body.at / 1000,
    )


def _parse(
    model: type[SignedRecord] | type[SignedNode], wire: Any, check: Callable[[Any], Any]
) -> Any:
    """A stored item re-checked on load; one that no longer verifies is skipped."""
    try:
        return check(model.model_validate(wire))
    except ValidationError:
        log.warning("skipping a stored membership item that does not validate")
        return None
