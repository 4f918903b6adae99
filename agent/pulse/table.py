"""The insight table a member serves: the evaluator's own cards on the evaluator, the last
table it pushed everywhere else. Replacing it publishes each difference once on this node's
bus: `pulse.insight.raised` for a new card or a worse severity, `pulse.insight.cleared` for a
card gone. A dismissal or a calmer severity changes the card, not the stream."""

from __future__ import annotations

from collections.abc import Sequence

from agent.core.bus import EventBus
from agent.pulse.condition import RANK
from agent.pulse.events import PULSE_INSIGHT_CLEARED, PULSE_INSIGHT_RAISED
from agent.pulse.models import MAX_CARDS, Insight, PeerInsightTable

# What one pushed table may weigh; the evaluator drops its least urgent cards to fit.
MAX_TABLE_BYTES = 512 * 1024
Signature = tuple[tuple[str, str, bool, float], ...]


def signature(cards: Sequence[Insight]) -> Signature:
    """What makes two tables different for their readers."""
    return tuple((c.id, c.severity, c.dismissed, c.since) for c in cards)


def bounded(cards: Sequence[Insight]) -> list[Insight]:
    """The most urgent cards (the order given) that fit `MAX_CARDS` and `MAX_TABLE_BYTES`."""
    kept = list(cards[:MAX_CARDS])
    size = sum(len(card.model_dump_json()) + 1 for card in kept)
    while kept and size > MAX_TABLE_BYTES - 256:
        size -= len(kept.pop().model_dump_json()) + 1
    return kept


class InsightTable:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.cards: dict[str, Insight] = {}
        self.origin: str | None = None  # the node whose table this is
        self.revision = -1

    def replace(self, cards: Sequence[Insight], origin: str, revision: int) -> Signature:
        """Serve these cards (already bounded) from now on; publishes the differences."""
        fresh = {card.id: card for card in cards}
        for card in cards:
            old = self.cards.get(card.id)
            if old is None or RANK[card.severity] > RANK[old.severity]:
                self.bus.publish(PULSE_INSIGHT_RAISED, card)
        for key, old in self.cards.items():
            if key not in fresh:
                self.bus.publish(PULSE_INSIGHT_CLEARED, old)
        self.cards, self.origin, self.revision = fresh, origin, revision
        return signature(cards)

    def accept(self, table: PeerInsightTable, sender: str) -> bool:
        """Take a table pushed by `sender` (already judged a rightful evaluator) unless it is
        older than one already taken from the same node."""
        if sender == self.origin and table.revision <= self.revision:
            return False
        self.replace(table.insights, sender, table.revision)
        return True

    def mark_dismissed(self, card: Insight) -> None:
        """The evaluator dismissed a card at this node's request: show it so before the
        evaluator's next table comes."""
        if card.id in self.cards:
            self.cards[card.id] = self.cards[card.id].model_copy(update={"dismissed": True})

    def listing(self, include_dismissed: bool) -> list[Insight]:
        cards = [c for c in self.cards.values() if include_dismissed or not c.dismissed]
        return sorted(cards, key=lambda card: (-RANK[card.severity], -card.since, card.id))

    def get(self, key: str) -> Insight | None:
        return self.cards.get(key)
