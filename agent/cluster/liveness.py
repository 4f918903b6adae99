"""Liveness per member: who was heard from lately, and who has gone quiet.

`heard_from` marks a member online; `check_liveness` turns silence into suspect (after
`suspect_after`) and offline (after `offline_after`). Held in memory only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from agent.cluster import events
from agent.cluster.store import MEMBER, Member
from agent.core.capabilities import Capabilities
from agent.core.events import Topic
from agent.core.subsystem import Context

ONLINE, SUSPECT, OFFLINE = "online", "suspect", "offline"


@dataclass
class Liveness:
    state: str = OFFLINE
    last_seen: float = 0.0
    heard_at: float | None = None
    telemetry: dict[str, Any] | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    observed: tuple[str, ...] = ()


# A member's clock stepped back this far (a corrected clock) starts its samples afresh.
CLOCK_STEP_S = 60.0


def _newer(sample: dict[str, Any], held: dict[str, Any] | None) -> bool:
    """Both ends of a heartbeat carry a sample, so one sample can arrive twice, and an older
    one (in the answer to a heartbeat sent earlier) after a newer one: only a newer one counts."""
    ts, held_ts = sample.get("ts"), held.get("ts") if held else None
    if not isinstance(held_ts, int | float) or not isinstance(ts, int | float):
        return held is None or ts != held_ts
    return ts > held_ts or ts < held_ts - CLOCK_STEP_S


class LivenessTracking:
    """The liveness half of `Membership`."""

    ctx: Context
    members: dict[str, Member]
    live: dict[str, Liveness]

    @property
    def node_id(self) -> str:
        return self.ctx.identity.node_id

    def peers(self) -> list[Member]:
        return [
            m for m in self.members.values() if m.status == MEMBER and m.node_id != self.node_id
        ]

    def heard_from(
        self,
        node_id: str,
        telemetry: dict[str, Any] | None,
        observed: str | None = None,
        capabilities: Capabilities | None = None,
    ) -> None:
        member = self.members.get(node_id)
        if member is None or member.status != MEMBER:
            return
        live = self.live.setdefault(node_id, Liveness())
        live.heard_at = time.monotonic()
        live.last_seen = self.ctx.clock()
        if telemetry is not None and _newer(telemetry, live.telemetry):
            live.telemetry = telemetry
            self.ctx.bus.publish(
                events.NODE_HEARTBEAT,
                events.MemberSample(
                    node_id=node_id,
                    name=member.name,
                    last_seen=live.last_seen,
                    telemetry=telemetry,
                ),
            )
        if capabilities is not None:
            live.capabilities = capabilities
        if observed and observed not in member.addresses:
            live.observed = (observed,)
        if live.state != ONLINE:
            live.state = ONLINE
            self._publish(events.NODE_ONLINE, member)

    def check_liveness(self) -> list[Member]:
        """Demote silent members; answers those that just went offline."""
        now = time.monotonic()
        settings = self.ctx.settings
        offline: list[Member] = []
        for member in self.peers():
            live = self.live.setdefault(member.node_id, Liveness())
            silence = now - live.heard_at if live.heard_at is not None else float("inf")
            state = (
                ONLINE
                if silence < settings.suspect_after
                else SUSPECT
                if silence < settings.offline_after
                else OFFLINE
            )
            if state == live.state or (state == SUSPECT and live.state == OFFLINE):
                continue
            live.state = state
            self._publish(events.NODE_SUSPECT if state == SUSPECT else events.NODE_OFFLINE, member)
            if state == OFFLINE:
                offline.append(member)
        return offline

    def next_liveness_change(self) -> float | None:
        """When (time.monotonic) the next member heard from turns suspect or offline, if no
        word comes from it first; None when no member can change state by silence."""
        settings = self.ctx.settings
        soonest: float | None = None
        for member in self.peers():
            live = self.live.get(member.node_id)
            if live is None or live.heard_at is None or live.state == OFFLINE:
                continue
            after = settings.suspect_after if live.state == ONLINE else settings.offline_after
            at = live.heard_at + after
            soonest = at if soonest is None else min(soonest, at)
        return soonest

    def state_of(self, node_id: str) -> str:
        if node_id == self.node_id:
            return ONLINE
        return self.live.get(node_id, Liveness()).state

    def set_observed(self, node_id: str, addresses: tuple[str, ...]) -> None:
        self.live.setdefault(node_id, Liveness()).observed = addresses

    def _publish(self, topic: Topic[events.NodeChange], member: Member) -> None:
        change = events.NodeChange(
            node_id=member.node_id,
            name=member.name,
            status=member.status,
            state=self.state_of(member.node_id),
            addresses=list(member.addresses),
            self=member.node_id == self.node_id,
            at=self.ctx.clock(),
        )
        self.ctx.bus.publish(topic, change)
