"""Synthetic members for Pulse tests: telemetry in the heartbeat's JSON shape, a cluster view
whose members the test sets, a clock the test moves, and a real context around them (real
SQLite and bus)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.core.bus import EventBus
from agent.core.capabilities import Capabilities, LlmCapability
from agent.core.cluster import MemberView, OnClusterChange
from agent.core.db import Database
from agent.core.metrics import Metrics
from agent.core.subsystem import Context
from agent.peer.client import PeerTarget
from agent.peer.identity import load_or_create_identity
from agent.settings import Settings

GB = 1024**3


def telemetry(
    cpu: float = 10.0,
    memory: float = 40.0,
    disks: dict[str, float] | None = None,
    gpus: list[float | None] | None = None,
    disk_free: dict[str, float] | None = None,
) -> dict[str, Any]:
    """A sample as a heartbeat carries it: disks by mount point (percent used)."""
    mounts = disks if disks is not None else {"/": 30.0}
    free = disk_free or {}
    return {
        "ts": 0.0,
        "node_id": "x",
        "cpu": {"percent": cpu, "per_core": [cpu], "count_logical": 1},
        "memory": {"total": 8 * GB, "available": GB, "used": GB, "percent": memory},
        "swap": {"total": 0, "used": 0, "free": 0, "percent": 0.0},
        "disks": [
            {
                "mountpoint": mount,
                "device": "/dev/sda",
                "fstype": "ext4",
                "total": 100 * GB,
                "used": int(used * GB),
                "free": free.get(mount, (100 - used) * GB),
                "percent": used,
            }
            for mount, used in mounts.items()
        ],
        "storage": {"path": "/home/me/.openfabric", "total": 100 * GB, "used": 0, "free": 0},
        "gpus": [{"index": i, "temperature_c": t} for i, t in enumerate(gpus or [])],
    }


def member(
    node_id: str,
    name: str | None = None,
    *,
    state: str = "online",
    is_self: bool = False,
    sample: Any = None,
    caps: Capabilities | None = None,
    reach: tuple[str, int] | None = None,
    cert: str = "",
    last_seen: float | None = None,
) -> MemberView:
    """`reach`: an address and port to reach it at (none: it has no address)."""
    addresses = (reach[0],) if reach else ()
    port = reach[1] if reach else 0
    return MemberView(
        node_id=node_id,
        name=name or node_id,
        is_self=is_self,
        state=state,
        addresses=addresses,
        peer_port=port,
        fingerprint="",
        version="test",
        joined_at=0.0,
        last_seen=last_seen,
        telemetry=telemetry() if sample is None else sample,
        capabilities=caps or Capabilities(),
        target=PeerTarget(node_id, addresses, port, cert),
    )


def llm(up: bool) -> LlmCapability:
    return LlmCapability(up=up)


@dataclass
class FakeCluster:
    node_id: str
    members_now: list[MemberView] = field(default_factory=list)

    @property
    def cluster_id(self) -> str | None:
        return "cluster"

    def members(self) -> list[MemberView]:
        return list(self.members_now)

    def member(self, node_id: str) -> MemberView | None:
        return next((m for m in self.members_now if m.node_id == node_id), None)

    def state_of(self, node_id: str) -> str:
        found = self.member(node_id)
        return found.state if found else "offline"

    def ever_known(self, node_id: str) -> bool:
        return self.member(node_id) is not None

    def status_of(self, node_id: str) -> str | None:
        return "member" if self.member(node_id) is not None else None

    def on_change(self, callback: OnClusterChange) -> None:
        return None

    def hint_addresses(self, node_id: str, addresses: tuple[str, ...]) -> None:
        return None


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@asynccontextmanager
async def pulse_context(home: Path, clock: FakeClock, **settings: Any) -> AsyncIterator[Context]:
    """A real context (SQLite, bus, identity) with a fake cluster view and clock."""
    ctx = Context(
        settings=Settings(home=home, mdns=False, **settings),
        db=Database(home / "fabric.db"),
        bus=EventBus(),
        metrics=Metrics(),
        identity=load_or_create_identity(home),
        version="test",
        clock=clock,
    )
    ctx.provide_cluster(FakeCluster(ctx.identity.node_id))
    await ctx.db.open()
    try:
        yield ctx
    finally:
        await ctx.peers.close()
        await ctx.db.close()
