"""Taking fact versions from other members.

A version is taken when it is newer than the one held here (last writer wins, tombstones
included), unless it is implausible: stamped more than MAX_FUTURE_S ahead of this node's
clock (it would win over every later change of the fact), or written by a node this cluster
never knew. Refusals are counted in `openfabric_memory_versions_refused_total`. A tombstone
older than TOMBSTONE_TTL_S of a fact not held here is ignored: it was purged here already.

Two members adding facts with one key (or with the same text) at the same time leave two
active facts after a merge. Every node resolves that the same way: the newest stamp wins and
the other is superseded by it, in a version whose stamp is derived from both facts' stamps,
so all nodes write the very same version and their tables agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from prometheus_client import Counter

from agent.core.cluster import ClusterView
from agent.memory.book import FactBook, Taken
from agent.memory.models import MAX_FACTS
from agent.memory.record import FactRecord, resolution_stamp
from agent.memory.text import normalise
from agent.memory.wire import FactVersion

log = logging.getLogger("openfabric.memory")
# Members' clocks agree to within the peer signature window (60 s); this leaves room for a
# version relayed a while after a skewed member wrote it.
MAX_FUTURE_S = 300.0
TOMBSTONE_TTL_S = 30 * 86400.0
# Members filling up at once overshoot the cap a little; a member pushing without end does not.
MERGE_LIVE_LIMIT = MAX_FACTS + MAX_FACTS // 10
MERGE_ROW_LIMIT = 3 * MAX_FACTS


class Merger:
    def __init__(
        self, book: FactBook, cluster: ClusterView, clock: Callable[[], float], refused: Counter
    ) -> None:
        self.book = book
        self.cluster = cluster
        self.clock = clock
        self.refused = refused

    async def merge(self, versions: Sequence[FactVersion], sender: str) -> int:
        """Take what is newer and plausible; answers how many versions were taken."""
        now = self.clock()
        records: list[FactRecord] = []
        for version in versions:
            problem = self._implausible(version, now)
            if problem is not None:
                self.refused.labels(problem).inc()
                log.warning("ignoring fact version %s from %s: %s", version.id, sender, problem)
                continue
            expired = version.deleted and version.modified < now - TOMBSTONE_TTL_S
            if not (expired and self.book.ledger.stamp(version.id) is None):
                records.append(version.to_record())
        if not records:
            return 0
        async with self.book.lock:
            taken = await self.book.take(self._within_limits(records, sender))
            resolved = await self.resolve(taken)
        self.book.publish_taken(taken)
        for record in resolved:
            self.book.superseded(record)
        return len(taken)

    def _implausible(self, version: FactVersion, now: float) -> str | None:
        if max(version.modified, version.created_at) > now + MAX_FUTURE_S:
            return "future"
        me = self.cluster.node_id
        for node in (version.writer, version.node_id):
            if node != me and not self.cluster.ever_known(node):
                return "unknown_writer"
        return None

    def _within_limits(self, records: list[FactRecord], sender: str) -> list[FactRecord]:
        ledger = self.book.ledger
        rows, live = len(ledger), ledger.live
        kept: list[FactRecord] = []
        for record in records:
            if ledger.stamp(record.id) is None:
                rows += 1
                live += record.live
                if rows > MERGE_ROW_LIMIT or live > MERGE_LIVE_LIMIT:
                    self.refused.labels("full").inc()
                    log.warning("memory is full: ignoring new facts from %s", sender)
                    continue
            kept.append(record)
        return kept

    async def resolve(self, taken: Taken) -> list[FactRecord]:
        """Supersede all but the newest of active facts sharing a key or a text with a
        version just taken; answers the superseded versions written."""
        store = self.book.store
        keys = {new.key for new, _ in taken if new.active and new.key is not None}
        texts = {normalise(new.text) for new, _ in taken if new.active}
        groups = [await store.active_with_key(key) for key in sorted(keys)]
        groups += [await store.active_with_text(text) for text in sorted(texts)]
        written: dict[str, FactRecord] = {}
        for group in groups:
            alive = [r for r in group if r.id not in written]
            if len(alive) < 2:
                continue
            winner = max(alive, key=lambda r: (r.stamp, r.id))
            for loser in alive:
                if loser is not winner:
                    stamp = resolution_stamp(winner, loser)
                    written[loser.id] = loser.superseded(winner.id, winner.created_at, stamp)
        if not written:
            return []
        done = await self.book.take(list(written.values()))
        return [new for new, _ in done]
