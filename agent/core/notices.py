"""What a subsystem may ask of the cluster's insight cards.

Pulse owns the cards (one member evaluates and shares them); a flow's notify step (and later
agents) raise a card through `Notices`, which Pulse provides as `ctx.notices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Notice:
    title: str
    message: str
    severity: Severity
    # Who speaks, shown on the card (e.g. "flow Nightly backup").
    source: str
    # Cards with the same key replace one another (e.g. one per flow and step).
    key: str


class Notices(Protocol):
    async def notify(self, notice: Notice) -> str:
        """Show `notice` as an insight card on every member and answer the card's id.

        Raises `ApiError` 503 PULSE_EVALUATOR_UNAVAILABLE when no member can hold it now."""
        ...
