"""The cluster view: every member with its state, last telemetry and pooled totals.

This node's telemetry is live; other members' is what their last heartbeat carried. Pooled
totals count online members only.
"""

from __future__ import annotations

from typing import Any, Protocol

from agent.cluster.membership import ONLINE, Membership
from agent.cluster.store import Member
from agent.core.errors import NotFound
from agent.core.subsystem import Context
from agent.telemetry.service import summarize


class TelemetrySource(Protocol):
    def latest(self) -> dict[str, Any] | None: ...


class ClusterView:
    def __init__(self, ctx: Context, membership: Membership, telemetry: TelemetrySource) -> None:
        self.ctx = ctx
        self.membership = membership
        self.telemetry = telemetry

    def node(self, member: Member) -> dict[str, Any]:
        is_self = member.node_id == self.membership.node_id
        live = self.membership.live.get(member.node_id)
        telemetry = self.telemetry.latest() if is_self else (live.telemetry if live else None)
        if is_self:
            last_seen = telemetry["ts"] if telemetry else self.ctx.clock()
        else:
            last_seen = live.last_seen if live and live.last_seen else None
        return {
            "node_id": member.node_id,
            "name": member.name,
            "is_self": is_self,
            "state": self.membership.state_of(member.node_id),
            "last_seen": last_seen,
            "address": member.addresses[0] if member.addresses else "",
            "addresses": list(member.addresses),
            "peer_port": member.peer_port,
            "fingerprint": member.fingerprint,
            "version": member.version,
            "joined_at": member.joined_at,
            "capabilities": self.ctx.capabilities
            if is_self
            else (live.capabilities if live else {}),
            "resources": resources_of(telemetry),
            "telemetry": telemetry,
        }

    def nodes(self) -> list[dict[str, Any]]:
        return [self.node(m) for m in self.membership.active()]

    def get(self, node_id: str) -> dict[str, Any]:
        member = self.membership.members.get(node_id)
        if member is None or member.status != "member":
            raise NotFound(
                f"no node with id {node_id!r} in this cluster",
                code="NODE_NOT_FOUND",
                details={"node_id": node_id},
            )
        return self.node(member)

    def status(self) -> dict[str, Any]:
        nodes = self.nodes()
        online = [n for n in nodes if n["state"] == ONLINE]
        me = self.membership.me()
        return {
            "node_id": me.node_id,
            "node_name": me.name,
            "version": self.ctx.version,
            "cluster_id": self.membership.cluster_id if self.membership.in_cluster() else None,
            "in_cluster": self.membership.in_cluster(),
            "membership_version": self.membership.version(),
            "uptime_s": round(self.ctx.clock() - self.ctx.started_at, 3),
            "node_count": len(nodes),
            "online_count": len(online),
            **pool([n["resources"] for n in online]),
        }


def resources_of(sample: dict[str, Any] | None) -> dict[str, Any]:
    """The pooled figures of one sample; a sample that cannot be read (a member on another
    version) counts as none rather than failing the whole view."""
    try:
        summary = summarize(sample)  # type: ignore[arg-type]
        cores = sample["cpu"]["count_logical"] if sample else 0
    except (KeyError, TypeError):
        summary, cores, sample = summarize(None), 0, None
    return {
        "cpu_cores": cores,
        "cpu_percent": summary["cpu_percent"] if sample else None,
        "ram_total": summary["memory_total"],
        "ram_available": summary["memory_available"],
        "storage_total": summary["storage_total"],
        "storage_free": summary["storage_free"],
        "gpu_count": summary["gpu_count"],
        "vram_total": summary["vram_total"],
        "vram_used": summary["vram_used"],
    }


def pool(resources: list[dict[str, Any]]) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(int(r[key]) for r in resources)

    return {
        "cpu_cores": total("cpu_cores"),
        "ram": {"total": total("ram_total"), "available": total("ram_available")},
        "storage": {"total": total("storage_total"), "free": total("storage_free")},
        "gpu_count": total("gpu_count"),
        "vram": {
            "total": total("vram_total"),
            "used": total("vram_used"),
            "free": total("vram_total") - total("vram_used"),
        },
    }
