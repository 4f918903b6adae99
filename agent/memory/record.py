"""One version of a fact, and which version wins.

Every change of a fact (added, superseded, deleted) is a new version of it stamped
(`modified`, `writer` node id). Members converge on the greatest stamp: last writer wins, ties
broken by node id. A delete is a version too (a tombstone, `deleted`), so an older version
arriving later can never bring the fact back. A node stamps each change later than the
version it changes, whatever its clock says, so a member whose clock runs behind still
supersedes or deletes a fact written elsewhere.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from agent.memory.models import Fact, FactSource

Stamp = tuple[float, str]


def new_fact_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class FactRecord:
    id: str
    modified: float
    writer: str
    deleted: bool
    text: str
    key: str | None
    tags: tuple[str, ...]
    source: FactSource
    session_id: str | None
    node_id: str
    created_at: float
    superseded_by: str | None
    superseded_at: float | None
    # A tombstone left by clearing the whole memory, not by deleting this fact.
    cleared: bool = False

    @property
    def stamp(self) -> Stamp:
        return (self.modified, self.writer)

    @property
    def live(self) -> bool:
        return not self.deleted

    @property
    def active(self) -> bool:
        return not self.deleted and self.superseded_by is None

    def newer_than(self, other: FactRecord | None) -> bool:
        return other is None or self.stamp > other.stamp

    def superseded(self, by: str, at: float, stamp: Stamp) -> FactRecord:
        return replace(self, superseded_by=by, superseded_at=at, modified=stamp[0], writer=stamp[1])

    def tombstone(self, stamp: Stamp, *, cleared: bool = False) -> FactRecord:
        return replace(
            self,
            modified=stamp[0],
            writer=stamp[1],
            deleted=True,
            cleared=cleared,
            text="",
            key=None,
            tags=(),
            session_id=None,
            superseded_by=None,
            superseded_at=None,
        )

    def to_fact(self) -> Fact:
        return Fact(
            id=self.id,
            text=self.text,
            key=self.key,
            tags=list(self.tags),
            source=self.source,
            session_id=self.session_id,
            node_id=self.node_id,
            created_at=self.created_at,
            superseded_by=self.superseded_by,
            superseded_at=self.superseded_at,
        )

    def as_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "modified": self.modified,
            "writer": self.writer,
            "deleted": self.deleted,
            "cleared": self.cleared,
            "text": self.text,
            "key": self.key,
            "tags": list(self.tags),
            "source": self.source,
            "session_id": self.session_id,
            "node_id": self.node_id,
            "created_at": self.created_at,
            "superseded_by": self.superseded_by,
            "superseded_at": self.superseded_at,
        }


class Stamper:
    """Stamps of this node's changes: never earlier than the clock, always later than this
    node's previous stamp and than the version being changed."""

    def __init__(self, node_id: str, clock: Callable[[], float]) -> None:
        self.node_id = node_id
        self.clock = clock
        self._last = 0.0

    def next(self, after: float = 0.0) -> Stamp:
        at = max(self.clock(), math.nextafter(self._last, math.inf))
        at = max(at, math.nextafter(after, math.inf))
        self._last = at
        return (at, self.node_id)


def resolution_stamp(winner: FactRecord, loser: FactRecord) -> Stamp:
    """The stamp every node gives the version that supersedes `loser` by `winner` after a
    merge (two active facts with one key): derived from both, so all nodes write the same."""
    if winner.stamp > loser.stamp:
        return winner.stamp
    return (math.nextafter(loser.modified, math.inf), loser.writer)
