"""Events of one member for the flows another member owns.

A flow's triggers run on its owner, which sees only its own bus. Events that every member
publishes (`triggers.model.relayed` says which are not) reach the owner anyway; the others
happen on one member only. So every member also watches the event triggers of the enabled
flows it does not own, for those topics, evaluates their filters, and sends what matches to
the owner (`send`). The owner checks the firing against what it holds (`take`) and fires it
through the trigger's own rate bound and filter, as if it had happened there.

An owner that cannot be reached loses the event: it is counted in
`openfabric_flows_relays_dropped_total` and logged once per owner until a relay reaches it.
"""

from __future__ import annotations

import logging

from agent.core.bus import topic_matches
from agent.core.cluster import OFFLINE, ClusterView
from agent.core.errors import Conflict, NotFound
from agent.core.metrics import Metrics
from agent.flows.definition import EventTrigger
from agent.flows.peer_wire import FIRE, FireBody, MemberFailed, ask
from agent.flows.service import FlowService, flow_missing
from agent.flows.triggers import Firing, Triggers
from agent.flows.triggers.model import relayed
from agent.peer.client import PeerClient

log = logging.getLogger("openfabric.flows")
RELAY_TIMEOUT_S = 5.0


class RelaySender:
    def __init__(self, cluster: ClusterView, peers: PeerClient, metrics: Metrics) -> None:
        self.cluster = cluster
        self.peers = peers
        self.dropped = metrics.counter(
            "flows_relays_dropped",
            "Events for flows other members own that did not reach the owner, by reason",
            ["reason"],
        )
        self._failing: set[str] = set()

    async def send(self, owner: str, firing: Firing) -> bool:
        """Hand `firing` (an event trigger's, `relay`) to `owner`; whether it took it."""
        member = self.cluster.member(owner)
        if member is None or member.state == OFFLINE:
            return self._drop(owner, "unreachable", "it is offline")
        payload = firing.payload
        data = payload.get("data")
        body = FireBody(
            flow_id=firing.flow_id,
            trigger_index=firing.trigger_index,
            topic=str(payload.get("topic", "")),
            id=int(payload.get("id", 0)),
            data=data if isinstance(data, dict) else {},
        )
        try:
            answer = await ask(self.peers, member, FIRE, body, limit=4096, timeout=RELAY_TIMEOUT_S)
        except MemberFailed as exc:
            return self._drop(owner, "unreachable", str(exc))
        if answer.status != 200:
            refusal = answer.error()
            return self._drop(owner, "refused", refusal.message if refusal else "no answer")
        self._failing.discard(owner)
        return True

    def _drop(self, owner: str, reason: str, why: str) -> bool:
        self.dropped.labels(reason).inc()
        if owner not in self._failing:
            self._failing.add(owner)
            log.warning("an event for a flow %s owns was dropped: %s", owner, why)
        return False


async def take(flows: FlowService, triggers: Triggers, body: FireBody) -> bool:
    """Fire an event a member relayed, if this node owns the flow, the flow is enabled and
    the trigger is an event trigger whose topic the event's is (or is below) and is relayed;
    else 404 or 409 and nothing happens. Whether it fired (the rate bound or the filter may
    drop it)."""
    loaded = flows.find_id(body.flow_id)
    if loaded is None:
        raise flow_missing(body.flow_id)
    definition = loaded.definition
    if definition is None or not loaded.stored.record.enabled:
        raise Conflict(f"flow {body.flow_id} is not enabled here", code="FLOW_DISABLED")
    if flows.owner(loaded) != flows.node_id:
        raise Conflict(f"this member does not own flow {body.flow_id}", code="FLOW_NOT_OWNED")
    triggers_of = definition.triggers
    trigger = triggers_of[body.trigger_index] if body.trigger_index < len(triggers_of) else None
    if not isinstance(trigger, EventTrigger):
        raise NotFound(
            f"flow {body.flow_id} has no event trigger {body.trigger_index}",
            code="FLOW_TRIGGER_NOT_FOUND",
        )
    if not (relayed(body.topic) and topic_matches(frozenset((trigger.event,)), body.topic)):
        raise Conflict(
            f"trigger {body.trigger_index} of flow {body.flow_id} takes no relayed "
            f"{body.topic} events",
            code="FLOW_TRIGGER_MISMATCH",
        )
    fired = await triggers.take_relayed(
        (body.flow_id, body.trigger_index), body.topic, body.id, body.data
    )
    if fired is None:
        raise Conflict(f"flow {body.flow_id}'s trigger is not armed here", code="FLOW_NOT_ARMED")
    return fired
