"""What a subsystem may ask of the cluster's documents.

The brain owns the index; the chat (and later automations) only retrieve passages through
`Knowledge`, which the brain provides as `ctx.knowledge`. A protocol, so no subsystem imports
the brain's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Passage:
    node_id: str
    node_name: str
    path: str
    start_line: int
    end_line: int
    heading: tuple[str, ...]
    score: float
    text: str


class Knowledge(Protocol):
    async def retrieve(
        self, query: str, *, k: int, path: str | None = None, node: str | None = None
    ) -> list[Passage]:
        """The `k` best passages for `query` across the cluster (or on `node`), best first.

        Raises `ApiError`: 503 BRAIN_UNAVAILABLE when the embedding stack is missing here,
        404 NODE_NOT_FOUND for an unknown `node`."""
        ...
