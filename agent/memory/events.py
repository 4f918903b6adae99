"""Topics memory publishes, on every node: for changes made here and for changes taken from
other members by replication."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agent.core.events import Topic
from agent.core.wire import Answer
from agent.memory.models import Fact, FactsCleared


class FactAdded(Answer):
    fact: Fact
    outcome: Literal["created", "superseded"] = Field(
        description="`superseded`: it replaced active facts (each has its own "
        "`memory.fact.superseded`); the same fact added again publishes nothing"
    )


class FactSuperseded(Answer):
    id: str
    superseded_by: str = Field(description="The fact that replaced it")


class FactGone(Answer):
    id: str


MEMORY_FACT_ADDED = Topic(
    "memory.fact.added", FactAdded, "A new fact is active (added here or on another member)."
)
MEMORY_FACT_SUPERSEDED = Topic(
    "memory.fact.superseded",
    FactSuperseded,
    "A fact was replaced by a newer one; it stays in history.",
)
MEMORY_FACT_REMOVED = Topic(
    "memory.fact.removed", FactGone, "A fact was deleted (it leaves history too)."
)
MEMORY_CLEARED = Topic(
    "memory.cleared",
    FactsCleared,
    "Every fact was removed, history included. A member taking a large clear from another "
    "publishes it once per batch of facts it receives.",
)

TOPICS: tuple[Topic[Any], ...] = (
    MEMORY_FACT_ADDED,
    MEMORY_FACT_SUPERSEDED,
    MEMORY_FACT_REMOVED,
    MEMORY_CLEARED,
)
