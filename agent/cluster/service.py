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
    if sample is None:
        return {
            "cpu_cores": 0,
            "cpu_percent": None,
            "ram_total": 0,
            "ram_available": 0,
            "storage_total": 0,
            "storage_free": 0,
            "gpu_count": 0,
            "vram_total": 0,
            "vram_used": 0,
        }
    gpus = sample.get("gpus") or []
    return {
        "cpu_cores": sample["cpu"]["count_logical"],
        "cpu_percent": sample["cpu"]["percent"],
        "ram_total": sample["memory"]["total"],
        "ram_available": sample["memory"]["available"],
        "storage_total": sample["storage"]["total"],
        "storage_free": sample["storage"]["free"],
        "gpu_count": len(gpus),
        "vram_total": sum(g["memory_total"] for g in gpus),
        "vram_used": sum(g["memory_used"] for g in gpus),
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
