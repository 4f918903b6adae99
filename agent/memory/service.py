"""Memory's domain logic: remembering claims (idempotent, superseding what they update),
recalling and searching by meaning, listing, deleting and clearing. It is the `Recollection`
the chat uses (`ctx.memory`) and what the routes call."""

from __future__ import annotations

import re

from agent.core.errors import ApiError, Conflict, NotFound, ServiceUnavailable
from agent.core.recollection import FactClaim, FactSource, RecalledFact, Remembered
from agent.memory.book import FactBook
from agent.memory.claims import Planner, check_claims
from agent.memory.events import (
    MEMORY_CLEARED,
    MEMORY_FACT_ADDED,
    MEMORY_FACT_REMOVED,
    FactAdded,
    FactGone,
)
from agent.memory.index import NO_ENCODER
from agent.memory.models import (
    FACT_ID_PATTERN,
    MAX_FACTS,
    MAX_K,
    AddFactAnswer,
    AddFactBody,
    FactHit,
    FactList,
    FactRemoved,
    FactsCleared,
    FactSearchAnswer,
)
from agent.memory.record import FactRecord

_FACT_ID = re.compile(FACT_ID_PATTERN)


def unavailable(reason: str) -> ApiError:
    return ServiceUnavailable(reason, code="MEMORY_UNAVAILABLE")


class MemoryService:
    def __init__(self, book: FactBook) -> None:
        self.book = book
        self.store = book.store
        self.index = book.index
        self.planner = Planner(book.store, book.index, book.stamper)

    # -- remembering --

    async def remember(
        self, claims: list[FactClaim], *, source: FactSource, session_id: str | None
    ) -> list[Remembered]:
        checked = check_claims(claims, session_id)
        # Outside the lock: encoding takes a while (the model may load first).
        vectors = await self.index.encode([c.text for c in checked])
        async with self.book.lock:
            plan = await self.planner.plan(checked, vectors, source, session_id)
            new = len(plan.created)
            if new and self.book.ledger.live + new > MAX_FACTS:
                raise Conflict(
                    f"memory holds {MAX_FACTS} facts (history included): delete some first",
                    code="MEMORY_FULL",
                    details={"limit": MAX_FACTS},
                )
            records = plan.records()
            if records:
                await self.book.commit(records, plan.vectors)
            for outcome in plan.outcomes:
                if outcome.outcome == "existing":
                    continue
                fact = plan.superseded.get(outcome.id) or plan.created[outcome.id]
                self.book.bus.publish(
                    MEMORY_FACT_ADDED, FactAdded(fact=fact.to_fact(), outcome=outcome.outcome)
                )
                for old in outcome.superseded:
                    self.book.superseded(plan.superseded[old])
        return plan.outcomes

    async def add(self, body: AddFactBody) -> AddFactAnswer:
        claim = FactClaim(text=body.text, key=body.key, tags=tuple(body.tags))
        [done] = await self.remember([claim], source="manual", session_id=None)
        record = await self.store.get(done.id)
        assert record is not None
        return AddFactAnswer(
            fact=record.to_fact(), outcome=done.outcome, superseded=list(done.superseded)
        )

    # -- reading --

    async def listing(self, include_superseded: bool) -> FactList:
        records = await self.store.listing(include_superseded)
        return FactList(facts=[r.to_fact() for r in records], count=len(records))

    async def _hits(self, query: str, k: int) -> list[tuple[FactRecord, float]]:
        problem = self.index.problem()
        if problem is not None:
            raise unavailable(problem)
        vectors = await self.index.encode([query])
        if vectors is None:
            raise unavailable(self.index.problem() or NO_ENCODER)
        ranked = self.index.nearest(vectors[0], k)
        records = await self.store.get_many(i for i, _ in ranked)
        return [(records[i], s) for i, s in ranked if i in records and records[i].active]

    async def search(self, query: str, k: int) -> FactSearchAnswer:
        hits = [FactHit(fact=r.to_fact(), score=round(s, 6)) for r, s in await self._hits(query, k)]
        return FactSearchAnswer(query=query, hits=hits, count=len(hits))

    async def recall(self, query: str, *, k: int) -> list[RecalledFact]:
        if not query.strip():
            return []
        hits = await self._hits(query, max(1, min(k, MAX_K)))
        return [RecalledFact(id=r.id, text=r.text, key=r.key, score=s) for r, s in hits]

    # -- removing --

    async def delete(self, fact_id: str) -> FactRemoved:
        async with self.book.lock:
            record = await self.store.get(fact_id) if _FACT_ID.fullmatch(fact_id) else None
            if record is None or record.deleted:
                raise NotFound(f"no fact has the id {fact_id[:64]!r}", code="FACT_NOT_FOUND")
            await self.book.commit([record.tombstone(self.book.stamper.next(record.modified))], {})
        self.book.bus.publish(MEMORY_FACT_REMOVED, FactGone(id=fact_id))
        return FactRemoved(id=fact_id, removed=True)

    async def clear(self) -> FactsCleared:
        async with self.book.lock:
            live = await self.store.get_many(await self.store.live_ids())
            stamper = self.book.stamper
            gone = [r.tombstone(stamper.next(r.modified), cleared=True) for r in live.values()]
            if gone:
                await self.book.commit(gone, {})
        self.book.bus.publish(MEMORY_CLEARED, FactsCleared(removed=len(gone)))
        return FactsCleared(removed=len(gone))
