"""`MembershipView`: the read-only `core.cluster.ClusterView` other subsystems are given."""

from __future__ import annotations

from agent.cluster.liveness import Liveness
from agent.cluster.membership import Membership
from agent.cluster.store import MEMBER, Member
from agent.core.cluster import MemberView, OnClusterChange, TelemetryReadings
from agent.core.subsystem import Context


class MembershipView:
    def __init__(self, ctx: Context, membership: Membership, telemetry: TelemetryReadings):
        self._ctx = ctx
        self._membership = membership
        self._telemetry = telemetry
        self._listeners: list[OnClusterChange] = []
        membership.on_cluster_change = self._changed

    async def _changed(self) -> None:
        for listener in list(self._listeners):
            await listener()

    @property
    def node_id(self) -> str:
        return self._membership.node_id

    @property
    def cluster_id(self) -> str | None:
        return self._membership.cluster_id if self._membership.in_cluster() else None

    def _view(self, member: Member) -> MemberView:
        membership = self._membership
        if member.node_id == membership.node_id:
            telemetry = self._telemetry.latest()
            return MemberView(
                node_id=member.node_id,
                name=member.name,
                is_self=True,
                state="online",
                addresses=member.addresses,
                peer_port=member.peer_port,
                fingerprint=member.fingerprint,
                version=member.version,
                joined_at=member.joined_at,
                last_seen=telemetry["ts"] if telemetry else self._ctx.clock(),
                telemetry=telemetry,
                capabilities=self._ctx.capabilities,
                target=membership.target(member),
            )
        live = membership.live.get(member.node_id) or Liveness()
        return MemberView(
            node_id=member.node_id,
            name=member.name,
            is_self=False,
            state=live.state,
            addresses=member.addresses,
            peer_port=member.peer_port,
            fingerprint=member.fingerprint,
            version=member.version,
            joined_at=member.joined_at,
            last_seen=live.last_seen or None,
            telemetry=live.telemetry,
            capabilities=live.capabilities,
            target=membership.target(member),
        )

    def members(self) -> list[MemberView]:
        me = self._membership.node_id
        active = sorted(self._membership.active(), key=lambda m: m.node_id != me)
        return [self._view(m) for m in active]

    def member(self, node_id: str) -> MemberView | None:
        member = self._membership.members.get(node_id)
        if member is None or member.status != MEMBER:
            return None
        return self._view(member)

    def state_of(self, node_id: str) -> str:
        return self._membership.state_of(node_id)

    def ever_known(self, node_id: str) -> bool:
        return node_id in self._membership.members

    def status_of(self, node_id: str) -> str | None:
        member = self._membership.members.get(node_id)
        return member.status if member is not None else None

    def on_change(self, callback: OnClusterChange) -> None:
        self._listeners.append(callback)

    def hint_addresses(self, node_id: str, addresses: tuple[str, ...]) -> None:
        self._membership.set_observed(node_id, addresses)
