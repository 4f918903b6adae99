"""The cluster view: every member with its state, last telemetry and pooled totals.

This node's telemetry is live; other members' is what their last heartbeat carried. Pooled
totals count online members only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.cluster.membership import ONLINE, Membership
from agent.cluster.models import (
    ClusterNode,
    ClusterStatus,
    NodeResources,
    PooledRam,
    PooledStorage,
    PooledVram,
)
from agent.cluster.store import Member
from agent.core.capabilities import Capabilities
from agent.core.cluster import TelemetryReadings
from agent.core.errors import NotFound
from agent.core.subsystem import Context
from agent.telemetry.models import TelemetrySample

ParsedSample = tuple[TelemetrySample | dict[str, Any] | None, NodeResources]


class ClusterReport:
    def __init__(self, ctx: Context, membership: Membership) -> None:
        self.ctx = ctx
        self.membership = membership
        self.telemetry: TelemetryReadings = ctx.telemetry
        # Per node: the last sample seen and what it reads as. A sample is replaced, never
        # changed, so it is parsed once however often the nodes are listed.
        self._parsed: dict[str, tuple[Mapping[str, Any], ParsedSample]] = {}

    def _parse(self, node_id: str, sample: Mapping[str, Any] | None) -> ParsedSample:
        if sample is None:
            return None, resources_of(self.telemetry, None)
        cached = self._parsed.get(node_id)
        if cached is None or cached[0] is not sample:
            cached = (sample, (readable(sample), resources_of(self.telemetry, sample)))
            self._parsed[node_id] = cached
        return cached[1]

    def _sample(self, member: Member) -> Mapping[str, Any] | None:
        """The member's latest sample as JSON: live for this node, else its last heartbeat's."""
        if member.node_id == self.membership.node_id:
            return self.telemetry.latest()
        live = self.membership.live.get(member.node_id)
        return live.telemetry if live else None

    def node(self, member: Member) -> ClusterNode:
        is_self = member.node_id == self.membership.node_id
        live = self.membership.live.get(member.node_id)
        sample = self._sample(member)
        telemetry, resources = self._parse(member.node_id, sample)
        capabilities = (
            self.ctx.capabilities if is_self else (live.capabilities if live else Capabilities())
        )
        if is_self:
            last_seen: float | None = sample["ts"] if sample else self.ctx.clock()
        else:
            last_seen = live.last_seen if live and live.last_seen else None
        return ClusterNode(
            node_id=member.node_id,
            name=member.name,
            is_self=is_self,
            state=self.membership.state_of(member.node_id),
            last_seen=last_seen,
            address=member.addresses[0] if member.addresses else "",
            addresses=list(member.addresses),
            peer_port=member.peer_port,
            fingerprint=member.fingerprint,
            version=member.version,
            joined_at=member.joined_at,
            capabilities=capabilities,
            resources=resources,
            telemetry=telemetry,
        )

    def nodes(self) -> list[ClusterNode]:
        return [self.node(m) for m in self.membership.active()]

    def get(self, node_id: str) -> ClusterNode:
        member = self.membership.members.get(node_id)
        if member is None or member.status != "member":
            raise NotFound(
                f"no node with id {node_id!r} in this cluster",
                code="NODE_NOT_FOUND",
                details={"node_id": node_id},
            )
        return self.node(member)

    def status(self) -> ClusterStatus:
        members = self.membership.active()
        online = [m for m in members if self.membership.state_of(m.node_id) == ONLINE]
        me = self.membership.me()
        return ClusterStatus(
            node_id=me.node_id,
            node_name=me.name,
            version=self.ctx.version,
            cluster_id=self.membership.cluster_id if self.membership.in_cluster() else None,
            in_cluster=self.membership.in_cluster(),
            membership_version=self.membership.version(),
            uptime_s=round(self.ctx.clock() - self.ctx.started_at, 3),
            node_count=len(members),
            online_count=len(online),
            **pool([resources_of(self.telemetry, self._sample(m)) for m in online]),
        )


def readable(sample: Mapping[str, Any] | None) -> TelemetrySample | dict[str, Any] | None:
    """A sample as a model when it is one this version reads, else as it came."""
    if sample is None:
        return None
    try:
        return TelemetrySample.model_validate(sample)
    except ValidationError:
        return dict(sample)


def resources_of(readings: TelemetryReadings, sample: Mapping[str, Any] | None) -> NodeResources:
    """The pooled figures of one sample; a sample that cannot be read (a member on another
    version) counts as none rather than failing the whole view."""
    try:
        return _resources(readings, sample)
    except (KeyError, TypeError, ValueError):  # a ValidationError is a ValueError
        return _resources(readings, None)


def _resources(readings: TelemetryReadings, sample: Mapping[str, Any] | None) -> NodeResources:
    summary = readings.summarize(sample)
    return NodeResources(
        cpu_cores=sample["cpu"]["count_logical"] if sample else 0,
        cpu_percent=summary["cpu_percent"] if sample else None,
        ram_total=summary["memory_total"],
        ram_available=summary["memory_available"],
        storage_total=summary["storage_total"],
        storage_free=summary["storage_free"],
        gpu_count=summary["gpu_count"],
        vram_total=summary["vram_total"],
        vram_used=summary["vram_used"],
    )


def pool(resources: list[NodeResources]) -> dict[str, Any]:
    """The pooled fields of `ClusterStatus`: the sums over `resources`."""
    ram_total = sum(r.ram_total for r in resources)
    vram_total = sum(r.vram_total for r in resources)
    vram_used = sum(r.vram_used for r in resources)
    return {
        "cpu_cores": sum(r.cpu_cores for r in resources),
        "ram": PooledRam(total=ram_total, available=sum(r.ram_available for r in resources)),
        "storage": PooledStorage(
            total=sum(r.storage_total for r in resources),
            free=sum(r.storage_free for r in resources),
        ),
        "gpu_count": sum(r.gpu_count for r in resources),
        "vram": PooledVram(total=vram_total, used=vram_used, free=vram_total - vram_used),
    }
