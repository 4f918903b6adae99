"""The one place fact versions are written: the table, the ledger and the search matrix
change together, under one lock, so none of them ever disagrees with the others.

`commit` stores this node's own changes and hands their ids to replication; `take` stores
versions from other members where they are newer and says what each replaced, for events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import anyio

from agent.core.bus import EventBus
from agent.memory.events import (
    MEMORY_CLEARED,
    MEMORY_FACT_ADDED,
    MEMORY_FACT_REMOVED,
    MEMORY_FACT_SUPERSEDED,
    FactAdded,
    FactGone,
    FactSuperseded,
)
from agent.memory.index import FactIndex
from agent.memory.ledger import Ledger
from agent.memory.models import FactsCleared
from agent.memory.record import FactRecord, Stamper
from agent.memory.store import MemoryStore, Vector

if TYPE_CHECKING:
    from agent.memory.vectors import Vectors

Taken = list[tuple[FactRecord, FactRecord | None]]


class FactBook:
    def __init__(
        self,
        store: MemoryStore,
        ledger: Ledger,
        index: FactIndex,
        bus: EventBus,
        stamper: Stamper,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.index = index
        self.bus = bus
        self.stamper = stamper
        self.lock: anyio.Lock = index.lock
        # Replication's outbox: ids of facts changed here, to push to every member.
        self.on_change: Callable[[list[str]], None] = lambda ids: None

    async def load(self) -> None:
        self.ledger.load(await self.store.stamps())
        await self.index.load()

    async def commit(self, records: Sequence[FactRecord], vectors: dict[str, Vectors]) -> None:
        """Store this node's own versions; the caller holds `lock`."""
        blobs: dict[str, Vector] = {}
        if vectors:
            from agent.memory.vectors import to_blob

            blobs = {i: (to_blob(v), self.index.model) for i, v in vectors.items()}
        await self.store.write(records, blobs)
        self.ledger.record(records)
        for record in records:
            if not record.active:
                self.index.drop(record.id)
            elif record.id in vectors:
                self.index.put(record.id, vectors[record.id])
            else:
                self.index.wanted()
        self.on_change([r.id for r in records])

    async def take(self, records: Sequence[FactRecord]) -> Taken:
        """Store the versions newer than ours; the caller holds `lock`."""
        taken = await self.store.write_if_newer(records)
        self.ledger.record(new for new, _ in taken)
        for new, _ in taken:
            if not new.active:
                self.index.drop(new.id)
            elif not self.index.searchable(new.id):
                self.index.wanted()
        return taken

    def publish_taken(self, taken: Taken) -> None:
        cleared = 0
        for new, old in taken:
            if new.deleted:
                if old is not None and old.live:
                    if new.cleared:
                        cleared += 1
                    else:
                        self.bus.publish(MEMORY_FACT_REMOVED, FactGone(id=new.id))
            elif new.active and old is None:
                self.bus.publish(
                    MEMORY_FACT_ADDED, FactAdded(fact=new.to_fact(), outcome="created")
                )
            elif new.superseded_by is not None and old is not None and old.active:
                self.superseded(new)
        if cleared:
            self.bus.publish(MEMORY_CLEARED, FactsCleared(removed=cleared))

    def superseded(self, record: FactRecord) -> None:
        assert record.superseded_by is not None
        self.bus.publish(
            MEMORY_FACT_SUPERSEDED, FactSuperseded(id=record.id, superseded_by=record.superseded_by)
        )
