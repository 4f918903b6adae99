"""The cluster view: every known node with its state and last telemetry, and pooled totals.

Until this node joins others it is a cluster of one; the view, the totals and the eviction
rules already work over any number of nodes.
"""

from __future__ import annotations

import socket
from typing import Any, Protocol

from agent.cluster.store import ClusterStore, NodeRecord
from agent.core.errors import Conflict, NotFound
from agent.core.subsystem import Context

ONLINE = "online"


class TelemetrySource(Protocol):
    def latest(self) -> dict[str, Any] | None: ...


class ClusterService:
    def __init__(self, ctx: Context, store: ClusterStore, telemetry: TelemetrySource) -> None:
        self.ctx = ctx
        self.store = store
        self.telemetry = telemetry

    @property
    def node_id(self) -> str:
        return self.ctx.identity.node_id

    def node_name(self) -> str:
        return self.ctx.settings.node_name or socket.gethostname()

    async def register_self(self) -> None:
        now = self.ctx.clock()
        existing = await self.store.get(self.node_id)
        identity = self.ctx.identity
        await self.store.upsert(
            NodeRecord(
                node_id=identity.node_id,
                name=self.node_name(),
                public_key=identity.public_key_b64,
                fingerprint=identity.fingerprint,
                address=self.ctx.settings.advertise_address,
                peer_port=self.ctx.settings.peer_port,
                version=self.ctx.version,
                joined_at=existing.joined_at if existing else now,
                last_seen=now,
            )
        )

    def _view(self, record: NodeRecord) -> dict[str, Any]:
        is_self = record.node_id == self.node_id
        telemetry = self.telemetry.latest() if is_self else None
        return {
            "node_id": record.node_id,
            "name": self.node_name() if is_self else record.name,
            "is_self": is_self,
            "state": ONLINE if is_self else "offline",
            "last_seen": telemetry["ts"] if telemetry else record.last_seen,
            "address": record.address,
            "peer_port": record.peer_port,
            "fingerprint": record.fingerprint,
            "version": self.ctx.version if is_self else record.version,
            "joined_at": record.joined_at,
            "resources": resources_of(telemetry),
            "telemetry": telemetry,
        }

    async def nodes(self) -> list[dict[str, Any]]:
        return [self._view(record) for record in await self.store.all()]

    async def node(self, node_id: str) -> dict[str, Any]:
        record = await self.store.get(node_id)
        if record is None:
            raise NotFound(
                f"no node with id {node_id!r} in this cluster",
                code="NODE_NOT_FOUND",
                details={"node_id": node_id},
            )
        return self._view(record)

    async def evict(self, node_id: str) -> None:
        await self.node(node_id)
        if node_id == self.node_id:
            raise Conflict(
                "a node cannot evict itself; evict it from another member of the cluster",
                code="CANNOT_EVICT_SELF",
                details={"node_id": node_id},
            )
        raise Conflict(
            f"node {node_id!r} is not a member that can be evicted",
            code="NOT_A_MEMBER",
            details={"node_id": node_id},
        )

    async def status(self) -> dict[str, Any]:
        nodes = await self.nodes()
        online = [n for n in nodes if n["state"] == ONLINE]
        pooled = pool([n["resources"] for n in online])
        return {
            "node_id": self.node_id,
            "node_name": self.node_name(),
            "version": self.ctx.version,
            "uptime_s": round(self.ctx.clock() - self.ctx.started_at, 3),
            "node_count": len(nodes),
            "online_count": len(online),
            **pooled,
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
