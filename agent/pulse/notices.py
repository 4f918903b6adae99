"""Notices: cards other parts raise (a flow's notify step), held by the evaluator beside its
rules' cards and shared with them.

A notice is a card of the rule `NOTICE_RULE` (not a valid rule id, so no rule's card can take
its place), with the id `notice-card:<key>`: a notice with the same key replaces the card (and
shows again if it was dismissed). A card lasts `NOTICE_TTL_S`, and at most `MAX_NOTICES` are
held (the oldest go first). On a member that is not the evaluator, `PulseNotices` forwards the
notice over the peer channel; the evaluator records the signed sender as the card's node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from agent.core.notices import Notice
from agent.pulse.condition import RANK
from agent.pulse.models import (
    MAX_CARD_TEXT,
    MAX_NAME,
    MAX_NOTICE_TITLE,
    Insight,
    PeerNotice,
)

if TYPE_CHECKING:
    from agent.pulse.service import PulseService

NOTICE_RULE = "notice-card"
NOTICE_TTL_S = 24 * 3600.0
MAX_NOTICES = 200


def notice_id(key: str) -> str:
    return f"{NOTICE_RULE}:{key}"


def is_notice(card: Insight) -> bool:
    return card.rule == NOTICE_RULE and card.id.startswith(f"{NOTICE_RULE}:")


def ordered(cards: Iterable[Insight]) -> list[Insight]:
    """Critical first, then newest: the order a table is served in."""
    return sorted(cards, key=lambda card: (-RANK[card.severity], -card.since, card.id))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def peer_notice(notice: Notice) -> PeerNotice:
    """The notice held to the bounds a member accepts (texts cut, never refused)."""
    return PeerNotice(
        title=_clip(notice.title, MAX_NOTICE_TITLE) or "Notice",
        message=_clip(notice.message, MAX_CARD_TEXT),
        severity=notice.severity,
        source=_clip(notice.source, MAX_NAME) or "unknown",
        key=_clip(notice.key, MAX_NAME) or "notice",
    )


class NoticeBoard:
    """The notices this node holds as the evaluator (or last took from one)."""

    def __init__(self) -> None:
        self.cards: dict[str, Insight] = {}

    def raise_notice(self, notice: PeerNotice, node_id: str, node_name: str, now: float) -> Insight:
        card = Insight(
            id=notice_id(notice.key),
            rule=NOTICE_RULE,
            severity=notice.severity,
            title=notice.title,
            what=notice.message or notice.title,
            why=f"Raised by {notice.source} on {node_name}.",
            action="",
            since=now,
            updated_at=now,
            node_id=node_id,
            node_name=node_name,
            subject=None,
            value=None,
            dismissed=False,
            source=notice.source,
        )
        self.cards.pop(card.id, None)  # re-inserted last: the newest is kept longest
        self.cards[card.id] = card
        while len(self.cards) > MAX_NOTICES:
            del self.cards[next(iter(self.cards))]
        return card

    def active(self, now: float) -> list[Insight]:
        """The cards not expired (the expired ones are forgotten)."""
        for key in [k for k, c in self.cards.items() if now - c.since >= NOTICE_TTL_S]:
            del self.cards[key]
        return list(self.cards.values())

    def dismiss(self, key: str, now: float) -> Insight | None:
        card = self.cards.get(key)
        if card is None or now - card.since >= NOTICE_TTL_S:
            return None
        if not card.dismissed:
            card = self.cards[key] = card.model_copy(update={"dismissed": True, "updated_at": now})
        return card

    def adopt(self, cards: Sequence[Insight], now: float) -> None:
        """Keep the notices of the table the previous evaluator published."""
        for card in sorted((c for c in cards if is_notice(c)), key=lambda c: c.since):
            if card.id not in self.cards and now - card.since < NOTICE_TTL_S:
                self.cards[card.id] = card
        while len(self.cards) > MAX_NOTICES:
            del self.cards[next(iter(self.cards))]


class PulseNotices:
    """`Notices` as the agent provides it (`ctx.notices`)."""

    def __init__(self, service: PulseService) -> None:
        self.service = service

    async def notify(self, notice: Notice) -> str:
        return (await self.service.notify(peer_notice(notice))).id
