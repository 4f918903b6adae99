"""Which member runs a flow's triggers.

Highest-random-weight (rendezvous) hashing of the flow id over the candidates: this node and
every member not offline (a suspect member keeps its flows until it is offline, so a slow
heartbeat does not move them). Every member computes the same answer from the same view, and
a member joining or leaving moves only the flows it wins or held. `runs_on` names one member,
by id or by name: that member alone, None while it is offline.

A node that has just started owns nothing until it has settled (`settle`): its first sync with
every member finished, each seeing it online, or SETTLE_BOUND_S passed. A returning owner so
learns the cursors of what others fired meanwhile, and the others have handed its flows back
before it arms them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from agent.core.bus import EventBus
from agent.core.cluster import OFFLINE, ClusterView, MemberView
from agent.flows.events import FLOW_OWNER, FlowOwnerChanged

log = logging.getLogger("openfabric.flows")
SETTLE_BOUND_S = 10.0
# The liveness topics that can change who is a candidate.
MEMBER_TOPICS = (
    "node.joined",
    "node.online",
    "node.suspect",
    "node.offline",
    "node.left",
    "node.evicted",
)


def weight(flow_id: str, node_id: str) -> int:
    digest = hashlib.sha256(f"{flow_id}\n{node_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rendezvous(flow_id: str, node_ids: list[str]) -> str | None:
    """The node id of the highest weight for `flow_id` (ties, vanishingly rare, by id)."""
    if not node_ids:
        return None
    return max(node_ids, key=lambda node: (weight(flow_id, node), node))


def named(members: list[MemberView], runs_on: str) -> MemberView | None:
    """The member `runs_on` names: by id first, else by name (the lowest id among equals)."""
    by_id = next((m for m in members if m.node_id == runs_on), None)
    if by_id is not None:
        return by_id
    by_name = sorted((m for m in members if m.name == runs_on), key=lambda m: m.node_id)
    return by_name[0] if by_name else None


class Ownership:
    def __init__(self, cluster: ClusterView, bus: EventBus) -> None:
        self.cluster = cluster
        self.bus = bus
        self.settled = False
        self._callbacks: list[Callable[[], None]] = []
        self._seen = self.shape()
        self._owners: dict[str, str | None] = {}

    @property
    def node_id(self) -> str:
        return self.cluster.node_id

    def candidates(self) -> list[MemberView]:
        return [m for m in self.cluster.members() if m.is_self or m.state != OFFLINE]

    def shape(self) -> tuple[tuple[str, str], ...]:
        """What owner_of depends on: the candidates, with their names."""
        return tuple(sorted((m.node_id, m.name) for m in self.candidates()))

    def owner_of(self, flow_id: str, runs_on: str | None) -> str | None:
        """The member whose triggers run `flow_id` now; also tells the cluster when this
        node has just taken it over (`flow.owner.changed`, from the new owner)."""
        owner = self._compute(flow_id, runs_on)
        previous = self._owners.get(flow_id, owner)
        self._owners[flow_id] = owner
        if owner != previous and owner == self.node_id:
            self.bus.publish(FLOW_OWNER, FlowOwnerChanged(flow_id=flow_id, owner=owner))
        return owner

    def _compute(self, flow_id: str, runs_on: str | None) -> str | None:
        candidates = self.candidates()
        if runs_on is not None:
            member = named(self.cluster.members(), runs_on)
            if member is None or member not in candidates:
                return None
            if member.is_self and not self.settled:
                return None
            return member.node_id
        ids = [m.node_id for m in candidates]
        if not self.settled:
            # Until settled, what this node would win goes to the next member by weight.
            ids = [node for node in ids if node != self.node_id]
        return rendezvous(flow_id, ids)

    def forget(self, flow_id: str) -> None:
        self._owners.pop(flow_id, None)

    def on_owners_changed(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def settle(self) -> None:
        if not self.settled:
            self.settled = True
            self._seen = self.shape()
            self._notify()

    def recheck(self) -> bool:
        """After a membership or liveness change: tell the listeners if any owner may have
        changed (the candidates did); answers whether they did."""
        shape = self.shape()
        if shape == self._seen:
            return False
        self._seen = shape
        self._notify()
        return True

    def _notify(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:  # one listener's failure must not keep the others stale
                log.exception("a flows owner listener failed")
