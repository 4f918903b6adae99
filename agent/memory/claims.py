"""Deciding what each claim of a batch is, before anything is stored.

In order, for each claim: an active fact with the same normalised text is `existing` (nothing
changes, nothing is deleted); otherwise active facts with the claim's key, and the active
facts it `replaces`, are superseded by a new fact; otherwise, with a working encoder, an
active near-duplicate (see `text`) is `existing`; otherwise the fact is `created`. A claim sees
the ones before it in the batch. A contradiction never drops the new fact: whatever the claim
supersedes, the claim itself is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.core.errors import BadRequest
from agent.core.http import validate
from agent.core.recollection import FactClaim, FactSource, Remembered, RememberOutcome
from agent.memory.models import MAX_SESSION_ID, AddFactBody
from agent.memory.record import FactRecord, Stamper, new_fact_id
from agent.memory.store import MemoryStore
from agent.memory.text import NEAR_DUPLICATE, near_duplicate, normalise

if TYPE_CHECKING:
    from agent.memory.index import FactIndex
    from agent.memory.vectors import Vectors

MAX_CLAIMS = 64
MAX_REPLACES = 16
# Near-duplicate candidates looked at per claim: the anchors check may rule out the nearest.
NEAREST = 8


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    key: str | None
    tags: tuple[str, ...]
    replaces: tuple[str, ...]


def check_claims(claims: list[FactClaim], session_id: str | None) -> list[Claim]:
    """Every claim within the bounds of `POST /api/memory`, or 400 for the first that is not."""
    if len(claims) > MAX_CLAIMS:
        raise BadRequest(f"at most {MAX_CLAIMS} facts at once, got {len(claims)}")
    if session_id is not None and not (0 < len(session_id) <= MAX_SESSION_ID):
        raise BadRequest(f"session_id must be 1 to {MAX_SESSION_ID} characters")
    many = len(claims) > 1
    return [_check(f"fact {i}: " if many else "", claim) for i, claim in enumerate(claims)]


def _check(where: str, claim: FactClaim) -> Claim:
    if not isinstance(claim, FactClaim) or not all(
        isinstance(part, tuple | list) for part in (claim.tags, claim.replaces)
    ):
        raise BadRequest(f"{where}not a fact claim")
    try:
        body = validate(
            AddFactBody, {"text": claim.text, "key": claim.key, "tags": list(claim.tags)}
        )
    except BadRequest as exc:
        raise BadRequest(where + exc.message, details=exc.details) from None
    text = body.text.strip()
    if not normalise(text) or "\0" in text or not _encodable(text, *body.tags):
        raise BadRequest(
            f"{where}text must hold words (no NUL, valid Unicode)",
            details={"fields": [{"field": "text", "message": "no words"}]},
        )
    if len(claim.replaces) > MAX_REPLACES or not all(isinstance(r, str) for r in claim.replaces):
        raise BadRequest(f"{where}replaces names at most {MAX_REPLACES} fact ids")
    return Claim(text, body.key, tuple(dict.fromkeys(body.tags)), tuple(claim.replaces))


def _encodable(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class Plan:
    outcomes: list[Remembered] = field(default_factory=list)
    created: dict[str, FactRecord] = field(default_factory=dict)
    # New versions of facts superseded by this batch (stored ones, or ones it created).
    superseded: dict[str, FactRecord] = field(default_factory=dict)
    vectors: dict[str, Vectors] = field(default_factory=dict)
    norms: dict[str, str] = field(default_factory=dict)

    def records(self) -> list[FactRecord]:
        final = {**self.created, **self.superseded}
        return list(final.values())

    def still_active(self, record: FactRecord) -> bool:
        return record.active and record.id not in self.superseded


class Planner:
    def __init__(self, store: MemoryStore, index: FactIndex, stamper: Stamper) -> None:
        self.store = store
        self.index = index
        self.stamper = stamper

    async def plan(
        self,
        claims: list[Claim],
        vectors: Vectors | None,
        source: FactSource,
        session_id: str | None,
    ) -> Plan:
        plan = Plan()
        for position, claim in enumerate(claims):
            vector = None if vectors is None else vectors[position]
            same = await self._same_text(claim, plan)
            targets = {} if same else await self._targets(claim, plan)
            if same is None and not targets and vector is not None:
                same = await self._near(claim, vector, plan)
            if same is not None:
                plan.outcomes.append(Remembered(same.id, "existing", ()))
                continue
            record = self._new(claim, source, session_id)
            plan.created[record.id] = record
            plan.norms[record.id] = normalise(record.text)
            if vector is not None:
                plan.vectors[record.id] = vector
            for target in targets.values():
                stamp = self.stamper.next(target.modified)
                plan.superseded[target.id] = target.superseded(record.id, record.created_at, stamp)
            outcome: RememberOutcome = "superseded" if targets else "created"
            plan.outcomes.append(Remembered(record.id, outcome, tuple(targets)))
        return plan

    def _new(self, claim: Claim, source: FactSource, session_id: str | None) -> FactRecord:
        modified, writer = self.stamper.next()
        return FactRecord(
            id=new_fact_id(),
            modified=modified,
            writer=writer,
            deleted=False,
            text=claim.text,
            key=claim.key,
            tags=claim.tags,
            source=source,
            session_id=session_id,
            node_id=writer,
            created_at=modified,
            superseded_by=None,
            superseded_at=None,
        )

    async def _same_text(self, claim: Claim, plan: Plan) -> FactRecord | None:
        norm = normalise(claim.text)
        for record in plan.created.values():
            if plan.norms[record.id] == norm and plan.still_active(record):
                return record
        stored = await self.store.active_with_text(norm)
        return next((r for r in stored if plan.still_active(r)), None)

    async def _targets(self, claim: Claim, plan: Plan) -> dict[str, FactRecord]:
        found: dict[str, FactRecord] = {}
        if claim.key is not None:
            keyed = [r for r in plan.created.values() if r.key == claim.key]
            keyed += await self.store.active_with_key(claim.key)
            found.update((r.id, r) for r in keyed if plan.still_active(r))
        named = [i for i in claim.replaces if i not in found]
        stored = await self.store.get_many(i for i in named if i not in plan.created)
        for fact_id in named:
            record = plan.created.get(fact_id) or stored.get(fact_id)
            if record is not None and plan.still_active(record):
                found[fact_id] = record
        return found

    async def _near(self, claim: Claim, vector: Vectors, plan: Plan) -> FactRecord | None:
        scored = [
            (score, r)
            for r in plan.created.values()
            if r.id in plan.vectors
            and (score := float(vector @ plan.vectors[r.id])) >= NEAR_DUPLICATE
            and plan.still_active(r)
        ]
        nearest = [(i, s) for i, s in self.index.nearest(vector, NEAREST) if s >= NEAR_DUPLICATE]
        stored = await self.store.get_many(i for i, _ in nearest) if nearest else {}
        scored += [(s, stored[i]) for i, s in nearest if i in stored]
        for score, record in sorted(scored, key=lambda pair: -pair[0]):
            if plan.still_active(record) and near_duplicate(score, claim.text, record.text):
                return record
        return None
