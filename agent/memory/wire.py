"""Bodies memory's peer routes accept (and answers it reads from members), validated before
anything is merged.

A member can sign any body, so every field is bounded here: ids have their one form, node ids
theirs, stamps are finite and below 2^53, texts, keys and tags have the bounds of
`POST /api/memory`, and a tombstone carries nothing but its stamp. What needs this node's
state (its clock, the members it knows) is judged later, in `Merger.merge`.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from agent.core.wire import StrictModel
from agent.memory.models import (
    FACT_ID_PATTERN,
    MAX_SESSION_ID,
    MAX_TAGS,
    MAX_TEXT,
    FactKey,
    FactSource,
    Tag,
)
from agent.memory.record import FactRecord
from agent.memory.text import normalise

MAX_EXACT = 2**53
# Facts per push or fetch; a sender also keeps each push under PUSH_BYTES of JSON.
MAX_BATCH = 256
PUSH_BYTES = 2 * 1024 * 1024
# The largest a batch can be (256 facts of 2,000 escaped characters each fit well inside).
PUSH_BODY_LIMIT = 16 * 1024 * 1024
MAX_PAGE = 2000
PAGE_BODY_LIMIT = 1024 * 1024
DIGEST_PATTERN = r"^[0-9a-f]{1,16}-[0-9a-f]{32}$"
NODE_ID_PATTERN = r"^[a-z2-7]{1,64}$"


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


FactId = Annotated[str, Field(max_length=32, pattern=FACT_ID_PATTERN)]
NodeId = Annotated[str, Field(max_length=64, pattern=NODE_ID_PATTERN)]
Stamp = Annotated[float, AfterValidator(_finite), Field(ge=0, lt=MAX_EXACT)]
Digest = Annotated[str, Field(max_length=64, pattern=DIGEST_PATTERN)]


class FactVersion(StrictModel):
    id: FactId
    modified: Stamp
    writer: NodeId
    deleted: bool
    cleared: bool = False
    text: Annotated[str, Field(max_length=MAX_TEXT)]
    key: FactKey | None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)]
    source: FactSource
    session_id: Annotated[str, Field(min_length=1, max_length=MAX_SESSION_ID)] | None
    node_id: NodeId
    created_at: Stamp
    superseded_by: FactId | None
    superseded_at: Stamp | None

    @model_validator(mode="after")
    def _consistent(self) -> FactVersion:
        if self.deleted:
            if self.text or self.key or self.tags or self.session_id or self.superseded_by:
                raise ValueError("a tombstone carries no text, key, tags, session or successor")
            return self
        if self.cleared:
            raise ValueError("only a tombstone is cleared")
        if not normalise(self.text) or "\0" in self.text:
            raise ValueError("text must hold words")
        if self.superseded_by == self.id:
            raise ValueError("a fact cannot supersede itself")
        if (self.superseded_by is None) != (self.superseded_at is None):
            raise ValueError("superseded_by and superseded_at go together")
        return self

    def to_record(self) -> FactRecord:
        return FactRecord(
            id=self.id,
            modified=self.modified,
            writer=self.writer,
            deleted=self.deleted,
            cleared=self.cleared,
            text=self.text,
            key=self.key,
            tags=tuple(self.tags),
            source=self.source,
            session_id=self.session_id,
            node_id=self.node_id,
            created_at=self.created_at,
            superseded_by=self.superseded_by,
            superseded_at=self.superseded_at,
        )


class PushBody(StrictModel):
    facts: Annotated[list[FactVersion], Field(max_length=MAX_BATCH)]


class SyncBody(StrictModel):
    digest: Digest


class StampsBody(StrictModel):
    """A page of stamps, in id order, of ids after `after` ("" for the first page)."""

    after: Annotated[str, Field(max_length=32, pattern=r"^[0-9a-f]{0,32}$")] = ""
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = MAX_PAGE


class StampWire(StrictModel):
    id: FactId
    modified: Stamp
    writer: NodeId


class StampPage(StrictModel):
    stamps: Annotated[list[StampWire], Field(max_length=MAX_PAGE)]
    more: bool


class FetchBody(StrictModel):
    ids: Annotated[list[FactId], Field(max_length=MAX_BATCH)]
