"""What a subsystem may ask of the cluster's memory of facts.

The memory subsystem owns the facts (and their replication); the chat (and later agents and
flows) only recall and remember through `Recollection`, which memory provides as
`ctx.memory`. A protocol, so no subsystem imports memory's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

FactSource = Literal["manual", "chat", "agent"]
RememberOutcome = Literal["created", "existing", "superseded"]


@dataclass(frozen=True, slots=True)
class RecalledFact:
    id: str
    text: str
    key: str | None
    score: float


@dataclass(frozen=True, slots=True)
class FactClaim:
    """A fact to remember. `replaces` names active facts (by id) this one updates or
    contradicts: they are superseded by it, as are active facts with the same `key`."""

    text: str
    key: str | None = None
    tags: tuple[str, ...] = ()
    replaces: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Remembered:
    id: str
    outcome: RememberOutcome
    superseded: tuple[str, ...]


class Recollection(Protocol):
    async def recall(self, query: str, *, k: int) -> list[RecalledFact]:
        """The `k` active facts most similar to `query`, best first ([] when there are none).

        Raises `ApiError` 503 MEMORY_UNAVAILABLE when no text encoder works here."""
        ...

    async def remember(
        self, claims: list[FactClaim], *, source: FactSource, session_id: str | None
    ) -> list[Remembered]:
        """Store each claim (idempotent for a fact already active, superseding what it
        updates), one outcome per claim in order. Raises `ApiError` (400) for a claim that
        breaks the bounds of `POST /api/memory`; nothing of the batch is stored then."""
        ...
