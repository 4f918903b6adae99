"""Moving fact versions between members.

Each change made here is pushed at once to every member not known to be offline (`announce`,
drained by `run_pushes`). A sync pass every SYNC_EVERY_S (and right after this node joins or
leaves a cluster) compares table digests with each online member; where they differ, it reads
the member's stamps page by page, fetches the versions newer there and pushes the ones newer
here. At start, every member is asked first (`pull_all`), so a node that was down catches up
before its first pass. Every message is bounded (`wire`); every answer is validated like a
request.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError

from agent.core.batches import json_batches
from agent.core.cluster import OFFLINE, ClusterView, MemberView
from agent.core.http import peer_answer
from agent.memory.book import FactBook
from agent.memory.merge import MERGE_ROW_LIMIT, TOMBSTONE_TTL_S, Merger
from agent.memory.record import Stamp
from agent.memory.wire import (
    MAX_BATCH,
    MAX_PAGE,
    PAGE_BODY_LIMIT,
    PUSH_BODY_LIMIT,
    PUSH_BYTES,
    PushBody,
    StampPage,
)
from agent.peer.client import PeerClient, PeerUnreachable

log = logging.getLogger("openfabric.memory")
SYNC_EVERY_S = 2.0
PURGE_EVERY_S = 600.0
REQUEST_TIMEOUT_S = 5.0
PULL_TIMEOUT_S = 10.0
FACTS = "/peer/memory/facts"
SYNC = "/peer/memory/sync"
STAMPS = "/peer/memory/stamps"
FETCH = "/peer/memory/fetch"
Wire = TypeVar("Wire", bound=BaseModel)


class Replicator:
    def __init__(
        self, book: FactBook, merger: Merger, cluster: ClusterView, peers: PeerClient
    ) -> None:
        self.book = book
        self.merger = merger
        self.cluster = cluster
        self.peers = peers
        self._outbox: dict[str, None] = {}
        self._pending = anyio.Event()
        self._sync_soon = anyio.Event()
        book.on_change = self.announce

    def others(self) -> list[MemberView]:
        return [m for m in self.cluster.members() if not m.is_self]

    # -- pushing each change --

    def announce(self, ids: list[str]) -> None:
        self._outbox.update(dict.fromkeys(ids))
        self._pending.set()

    async def run_pushes(self) -> None:
        while True:
            await self._pending.wait()
            self._pending = anyio.Event()
            ids, self._outbox = list(self._outbox), {}
            try:
                await self._push_to_all(ids)
            except Exception:  # what was not pushed, the sync passes bring
                log.exception("pushing memory changes failed")

    async def _push_to_all(self, ids: list[str]) -> None:
        targets = [m for m in self.others() if m.state != OFFLINE]
        if not targets:
            return
        records = await self.book.store.get_many(ids)
        wires = [records[i].as_wire() for i in ids if i in records]
        async with anyio.create_task_group() as tg:
            for member in targets:
                tg.start_soon(self.push, member, wires)

    async def push(self, member: MemberView, wires: list[dict[str, Any]]) -> bool:
        for batch in json_batches(wires, max_items=MAX_BATCH, max_bytes=PUSH_BYTES):
            if await self._send(member, FACTS, {"facts": batch}) is None:
                return False
        return True

    # -- syncing tables --

    def sync_soon(self) -> None:
        self._sync_soon.set()

    async def run(self) -> None:
        await self.pull_all()
        purged_at = -math.inf
        while True:
            with anyio.move_on_after(SYNC_EVERY_S):
                await self._sync_soon.wait()
            self._sync_soon = anyio.Event()
            try:
                # Tombstones live for weeks: a look now and then is enough (each look is a
                # write transaction).
                if time.monotonic() - purged_at >= PURGE_EVERY_S:
                    purged_at = time.monotonic()
                    await self.purge()
                await self.sync_all()
            except Exception:  # the next pass tries again
                log.exception("memory sync pass failed")

    async def purge(self) -> None:
        async with self.book.lock:
            for fact_id in await self.book.store.purge_tombstones(
                self.merger.clock() - TOMBSTONE_TTL_S
            ):
                self.book.ledger.forget(fact_id)

    async def pull_all(self) -> None:
        """Take what every member (any liveness: none is known yet) has that is newer."""
        with anyio.move_on_after(PULL_TIMEOUT_S):
            async with anyio.create_task_group() as tg:
                for member in self.others():
                    tg.start_soon(self._sync_quietly, member, False)

    async def sync_all(self) -> None:
        async with anyio.create_task_group() as tg:
            for member in self.others():
                if member.online:
                    tg.start_soon(self._sync_quietly, member, True)

    async def _sync_quietly(self, member: MemberView, give: bool) -> None:
        try:
            await self.sync_with(member, give=give)
        except Exception:  # one member's bad table must not stop the others
            log.exception("memory sync with %s failed", member.node_id)

    async def sync_with(self, member: MemberView, *, give: bool) -> bool:
        """Fetch what is newer on `member` (and push what is newer here, if `give`); False
        if it did not answer."""
        ledger = self.book.ledger
        answer = await self._send(member, SYNC, {"digest": ledger.digest})
        if answer is None:
            return False
        if answer.get("digest") == ledger.digest:
            return True
        theirs = await self._stamps(member)
        if theirs is None:
            return False
        wanted = [i for i, s in theirs.items() if _newer(s, ledger.stamp(i))]
        for start in range(0, len(wanted), MAX_BATCH):
            ids = wanted[start : start + MAX_BATCH]
            fetched = await self._send(member, FETCH, {"ids": ids}, PUSH_BODY_LIMIT)
            table = _parsed(PushBody, fetched, member)
            if table is None:
                return False
            await self.merger.merge(table.facts, member.node_id)
        if give:
            mine = [i for i in ledger.ids() if _newer(ledger.stamp(i), theirs.get(i))]
            records = await self.book.store.get_many(mine)
            return await self.push(member, [records[i].as_wire() for i in mine if i in records])
        return True

    async def _stamps(self, member: MemberView) -> dict[str, Stamp] | None:
        found: dict[str, Stamp] = {}
        after = ""
        # No honest table is longer than this node would hold.
        for _ in range(MERGE_ROW_LIMIT // MAX_PAGE + 1):
            answer = await self._send(member, STAMPS, {"after": after, "limit": MAX_PAGE})
            page = _parsed(StampPage, answer, member)
            if page is None:
                return None
            found.update((s.id, (s.modified, s.writer)) for s in page.stamps)
            if not page.more or not page.stamps or page.stamps[-1].id <= after:
                return found
            after = page.stamps[-1].id
        log.warning("%s answered more stamps than a memory holds", member.node_id)
        return None

    async def _send(
        self,
        member: MemberView,
        path: str,
        payload: dict[str, Any],
        limit: int = PAGE_BODY_LIMIT,
    ) -> dict[str, Any] | None:
        try:
            response = await self.peers.request(
                member.target, "POST", path, json_body=payload, timeout=REQUEST_TIMEOUT_S
            )
        except PeerUnreachable:
            return None
        if response.status_code != 200 or len(response.content) > limit:
            return None
        return peer_answer(response.content)


def _newer(stamp: Stamp | None, other: Stamp | None) -> bool:
    return stamp is not None and (other is None or stamp > other)


def _parsed(model: type[Wire], answer: dict[str, Any] | None, member: MemberView) -> Wire | None:
    if answer is None:
        return None
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        log.warning("%s answered a malformed memory table: %s", member.node_id, exc)
        return None
