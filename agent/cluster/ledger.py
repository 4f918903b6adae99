"""Who is a member, derived from the signed records alone.

Records only accumulate (a grow-only set, merged by union), and the standing of every node
is a pure function of that set, so members that hold the same records agree on the same
table whatever order the records arrived in. The rules:

1. The founder is the node whose founding record matches the cluster id (the id is derived
   from its key, so it has exactly one possible founder).
2. A node is *chained* when it is the founder, or an admission of it was signed by a chained
   node. Evictions count when their signer is chained (ignoring evictions, so an eviction
   cannot cancel the evictor that cancels it: a mutual eviction evicts both).
3. A node with a counted eviction is evicted, finally: no record can bring it back.
4. The admissions an evicted node signed are honoured only for the nodes an eviction of it
   lists as `kept` (the evictor's review); so an evicted key can never admit anyone later.
5. A chained node is a member while one of its honoured admissions (or its founding record)
   is not closed by a leave it signed itself; otherwise it has left and may be admitted again
   with a new admission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.cluster.models import Admit, Evict, Found, Leave
from agent.cluster.records import Record

MEMBER, LEFT, EVICTED = "member", "left", "evicted"


@dataclass(frozen=True)
class Standing:
    status: str
    public_key: str
    joined_at_ms: int
    # The founding record or honoured admissions still open (a leave closes these).
    open: tuple[str, ...]
    admitted_by: tuple[str, ...]


def _chain(founder: str, admits: list[Admit], honoured: Callable[[Admit], bool]) -> set[str]:
    by_issuer: dict[str, list[Admit]] = {}
    for admit in admits:
        by_issuer.setdefault(admit.by, []).append(admit)
    chained, queue = {founder}, [founder]
    while queue:
        for admit in by_issuer.get(queue.pop(), []):
            if admit.node_id not in chained and honoured(admit):
                chained.add(admit.node_id)
                queue.append(admit.node_id)
    return chained


def derive(cluster_id: str, records: Iterable[Record]) -> dict[str, Standing]:
    mine = [r for r in records if r.body.cluster_id == cluster_id]
    founds = [r for r in mine if isinstance(r.body, Found)]
    if not founds:
        return {}
    founder = founds[0].body.node_id
    admits = [r for r in mine if isinstance(r.body, Admit)]
    admit_bodies = [r.body for r in admits if isinstance(r.body, Admit)]
    ever = _chain(founder, admit_bodies, lambda _: True)
    evictions: dict[str, list[Evict]] = {}
    for record in mine:
        body = record.body
        if isinstance(body, Evict) and body.by in ever:
            evictions.setdefault(body.node_id, []).append(body)
    kept = {node: {k for e in found for k in e.kept} for node, found in evictions.items()}

    def honoured(admit: Admit) -> bool:
        return admit.by not in evictions or admit.node_id in kept[admit.by]

    chained = _chain(founder, admit_bodies, honoured)
    closed: dict[str, set[str]] = {}
    for record in mine:
        if isinstance(record.body, Leave):
            closed.setdefault(record.body.node_id, set()).update(record.body.ends)
    standings: dict[str, Standing] = {}
    for node, found in evictions.items():
        standings[node] = Standing(EVICTED, found[0].public_key, 0, (), ())
    for node in chained - evictions.keys():
        entry = [
            r
            for r in [*founds, *admits]
            if r.body.node_id == node
            and (
                isinstance(r.body, Found)
                or (isinstance(r.body, Admit) and r.body.by in chained and honoured(r.body))
            )
        ]
        still = [r for r in entry if r.id not in closed.get(node, set())]
        standings[node] = Standing(
            MEMBER if still else LEFT,
            entry[0].body.public_key,
            min(r.body.at for r in still or entry),
            tuple(sorted(r.id for r in still)),
            tuple(sorted({r.body.by for r in still if isinstance(r.body, Admit)})),
        )
    return standings


def admitted_by(standings: dict[str, Standing], issuer: str) -> list[str]:
    """The members an issuer admitted (what to review when it is evicted)."""
    return sorted(
        node
        for node, s in standings.items()
        if s.status == MEMBER and issuer in s.admitted_by and node != issuer
    )
