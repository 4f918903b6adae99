"""Moving flow records and trigger cursors between members.

A record or cursor saved here is pushed at once to every member not known to be offline
(`announce`, drained by `run_pushes`). Every SYNC_EVERY_S (with jitter), and soon after a
member comes online, each online member is asked for its digest; what is newer there is
fetched, what is newer here is pushed. Whatever arrives, by push or fetch, is checked before
it is merged: bounds, the signature of its author (a member cannot speak for another), and
the author being a member or one that left gracefully (what it wrote while a member stays
valid: a member joining later learns those flows too); an evicted author or a node never a
member is refused. Refusals are counted in
`openfabric_flows_records_refused_total` and logged once per member and reason.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, Protocol, TypeVar

import anyio
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from agent.core.batches import json_batches
from agent.core.cluster import OFFLINE, ClusterView, MemberView
from agent.flows.peer_wire import (
    DIGEST,
    DIGEST_ANSWER_LIMIT,
    FETCH,
    FETCH_ANSWER_LIMIT,
    FETCH_BATCH,
    MAX_DIGEST,
    MAX_PUSH_CURSORS,
    MAX_PUSH_RECORDS,
    PUSH_BYTES,
    RECORDS,
    Digest,
    FetchBody,
    Fetched,
    MemberFailed,
    Stamp,
    ask,
)
from agent.flows.records import (
    Cursor,
    CursorWire,
    FlowRecord,
    RecordRefused,
    RecordWire,
    check_cursor,
    check_record,
)
from agent.peer.client import PeerClient

log = logging.getLogger("openfabric.flows")
SYNC_EVERY_S = 30.0
SYNC_JITTER_S = 5.0
PUSH_TIMEOUT_S = 10.0

M = TypeVar("M", bound=BaseModel)
OnMerged = Callable[[list[FlowRecord]], Awaitable[None]]


LEFT = "left"


def departed_gracefully(cluster: ClusterView, node_id: str) -> bool:
    """Whether `node_id` was a member and left (not evicted)."""
    return cluster.status_of(node_id) == LEFT


class RecordStore(Protocol):
    """What replication needs of the flows store."""

    async def records(self) -> list[FlowRecord]: ...

    async def record(self, flow_id: str) -> FlowRecord | None: ...

    async def merge_record(self, record: FlowRecord) -> bool: ...

    async def cursors(self) -> list[Cursor]: ...

    async def merge_cursor(self, cursor: Cursor) -> bool: ...


class Replicator:
    def __init__(
        self,
        *,
        node_id: str,
        cluster: ClusterView,
        peers: PeerClient,
        store: RecordStore,
        clock: Callable[[], float],
        on_merged: OnMerged,
        refused: Counter,
    ) -> None:
        self.node_id = node_id
        self.cluster = cluster
        self.peers = peers
        self.store = store
        self.clock = clock
        self.on_merged = on_merged
        self.refused = refused
        self._records: dict[str, FlowRecord] = {}
        self._cursors: dict[tuple[str, int], Cursor] = {}
        self._pending = anyio.Event()
        self._sync_soon = anyio.Event()
        self._logged: set[tuple[str, str]] = set()

    def others(self) -> list[MemberView]:
        return [m for m in self.cluster.members() if not m.is_self]

    def reachable(self) -> list[MemberView]:
        return [m for m in self.others() if m.state != OFFLINE]

    # -- pushing what is saved here --

    async def announce(self, record: FlowRecord) -> None:
        self._records[record.flow_id] = record
        self._pending.set()

    async def announce_cursor(self, cursor: Cursor) -> None:
        self._cursors[cursor.key] = cursor
        self._pending.set()

    async def run_pushes(self) -> None:
        while True:
            await self._pending.wait()
            self._pending = anyio.Event()
            records, self._records = list(self._records.values()), {}
            cursors, self._cursors = list(self._cursors.values()), {}
            try:
                async with anyio.create_task_group() as tg:
                    for member in self.reachable():
                        tg.start_soon(self.push, member, records, cursors)
            except Exception:  # what was not pushed, the sync passes bring
                log.exception("pushing flow records failed")

    async def push(
        self, member: MemberView, records: list[FlowRecord], cursors: list[Cursor]
    ) -> bool:
        """Send records and cursors to `member`; False when it did not take them all (what it
        missed, the next sync brings)."""
        batches = json_batches(_wires(records), max_items=MAX_PUSH_RECORDS, max_bytes=PUSH_BYTES)
        bodies = [{"records": batch, "cursors": []} for batch in batches]
        cursor_wires = _wires(cursors)
        for start in range(0, len(cursor_wires), MAX_PUSH_CURSORS):
            bodies.append(
                {"records": [], "cursors": cursor_wires[start : start + MAX_PUSH_CURSORS]}
            )
        for body in bodies:
            try:
                answer = await ask(
                    self.peers, member, RECORDS, body, limit=4096, timeout=PUSH_TIMEOUT_S
                )
            except MemberFailed as exc:
                log.debug("pushing flows to %s failed: %s", member.node_id, exc)
                return False
            if answer.status != 200:
                return False
        return True

    # -- taking what members send --

    async def take(
        self, records: Iterable[RecordWire], cursors: Iterable[CursorWire], sender: str
    ) -> int:
        """Merge what passes every check; answers how many changed anything here."""
        now = self.clock()
        changed: list[FlowRecord] = []
        for wire in records:
            record = wire.record()
            problem = _refusal(partial(check_record, record, now))
            if self._acceptable(sender, record.author, problem) and await self.store.merge_record(
                record
            ):
                changed.append(record)
        taken = len(changed)
        for cursor_wire in cursors:
            cursor = cursor_wire.cursor()
            problem = _refusal(partial(check_cursor, cursor, now))
            if self._acceptable(sender, cursor.node_id, problem):
                taken += int(await self.store.merge_cursor(cursor))
        if changed:
            await self.on_merged(changed)
        return taken

    def _acceptable(self, sender: str, author: str, problem: RecordRefused | None) -> bool:
        if problem is not None:
            reason = "signature" if "signature" in str(problem) else "bounds"
            self._refuse(sender, reason, str(problem))
            return False
        if author == self.node_id or self.cluster.member(author) is not None:
            return True
        if departed_gracefully(self.cluster, author):
            return True
        self._refuse(sender, "not_member", f"its author {author} is not a member")
        return False

    def _refuse(self, sender: str, reason: str, why: str) -> None:
        self.refused.labels(reason).inc()
        if (sender, reason) not in self._logged:
            self._logged.add((sender, reason))
            log.warning("refused a flow record from %s: %s", sender, why)

    # -- serving digests and fetches --

    async def digest(self) -> Digest:
        records = (await self.store.records())[:MAX_DIGEST]
        cursors = (await self.store.cursors())[:MAX_DIGEST]
        online = [m.node_id for m in self.cluster.members() if m.online or m.is_self]
        return Digest(
            records=[
                Stamp(
                    flow_id=r.flow_id, version=r.version, updated_at=r.updated_at, author=r.author
                )
                for r in records
            ],
            cursors=[CursorWire.model_validate(c.as_wire()) for c in cursors],
            online=online,
        )

    async def fetch(self, ids: list[str]) -> list[FlowRecord]:
        found = [await self.store.record(flow_id) for flow_id in dict.fromkeys(ids)]
        return [r for r in found if r is not None]

    # -- syncing with members --

    def sync_soon(self) -> None:
        self._sync_soon.set()

    async def run(self) -> None:
        while True:
            with anyio.move_on_after(SYNC_EVERY_S + random.uniform(0, SYNC_JITTER_S)):
                await self._sync_soon.wait()
            self._sync_soon = anyio.Event()
            async with anyio.create_task_group() as tg:
                for member in self.reachable():
                    tg.start_soon(self.sync_quietly, member)

    async def sync_quietly(self, member: MemberView) -> Digest | None:
        try:
            return await self.sync_with(member)
        except Exception:  # one member's bad answer must not stop the others
            log.exception("flows sync with %s failed", member.node_id)
            return None

    async def sync_with(self, member: MemberView, *, give: bool = True) -> Digest | None:
        """Fetch what is newer on `member`, push what is newer here (if `give`); answers its
        digest, or None when it did not answer one."""
        digest = await self._digest_of(member)
        if digest is None:
            return None
        mine = {r.flow_id: r for r in await self.store.records()}
        wanted = [s.flow_id for s in digest.records if _stamp_newer(s, mine.get(s.flow_id))]
        for start in range(0, len(wanted), FETCH_BATCH):
            if not await self._fetch_from(member, wanted[start : start + FETCH_BATCH]):
                return None
        await self.take([], digest.cursors, member.node_id)
        if give:
            theirs = {s.flow_id: s.order for s in digest.records}
            newer = [r for r in mine.values() if theirs.get(r.flow_id, (0, 0.0, "")) < r.order]
            their_cursors = {(c.flow_id, c.trigger_index): c.fired_at for c in digest.cursors}
            cursors = [
                c for c in await self.store.cursors() if their_cursors.get(c.key, -1.0) < c.fired_at
            ]
            if newer or cursors:
                await self.push(member, newer, cursors)
        return digest

    async def _digest_of(self, member: MemberView) -> Digest | None:
        try:
            answer = await ask(self.peers, member, DIGEST, {}, limit=DIGEST_ANSWER_LIMIT)
        except MemberFailed as exc:
            log.debug("no flows digest from %s: %s", member.node_id, exc)
            return None
        return _parsed(Digest, answer.body, member) if answer.status == 200 else None

    async def _fetch_from(self, member: MemberView, ids: list[str]) -> bool:
        try:
            answer = await ask(
                self.peers, member, FETCH, FetchBody(ids=ids), limit=FETCH_ANSWER_LIMIT
            )
        except MemberFailed as exc:
            log.debug("fetching flows from %s failed: %s", member.node_id, exc)
            return False
        fetched = _parsed(Fetched, answer.body, member) if answer.status == 200 else None
        if fetched is None:
            return False
        await self.take(fetched.records, [], member.node_id)
        return True


def _refusal(check: Callable[[], None]) -> RecordRefused | None:
    try:
        check()
    except RecordRefused as exc:
        return exc
    return None


def _wires(items: Iterable[FlowRecord | Cursor]) -> list[dict[str, Any]]:
    return [item.as_wire() for item in items]


def _stamp_newer(stamp: Stamp, held: FlowRecord | None) -> bool:
    return held is None or stamp.order > held.order


def _parsed(model: type[M], body: dict[str, Any] | None, member: MemberView) -> M | None:
    if body is None:
        return None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        log.warning("%s answered a malformed flows %s: %s", member.node_id, model.__name__, exc)
        return None
