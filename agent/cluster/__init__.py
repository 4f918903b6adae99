"""Cluster subsystem: membership, join/leave/evict, heartbeats and the cluster view."""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.cluster.heartbeat import Heartbeats
from agent.cluster.join import JoinService
from agent.cluster.membership import Membership
from agent.cluster.peer_routes import build_peer_routes
from agent.cluster.routes import build_routes
from agent.cluster.service import ClusterView, TelemetrySource
from agent.cluster.store import MEMBER, ClusterStore
from agent.core.subsystem import Context
from agent.discovery import Advert
from agent.peer.client import PeerClient
from agent.peer.signing import NonceCache


class ClusterSubsystem:
    name = "cluster"

    def __init__(self, ctx: Context, telemetry: TelemetrySource) -> None:
        self.ctx = ctx
        self.store = ClusterStore(ctx.db)
        self.membership = Membership(ctx, self.store)
        self.peers = PeerClient(ctx.identity)
        # Requests must name this node; nonces of future-dated ones survive a restart.
        self.nonces = NonceCache(
            ctx.identity.node_id, journal=ctx.settings.home / "peer-nonces.log"
        )
        self.heartbeats = Heartbeats(ctx, self.membership, self.peers, telemetry)
        self.joins = JoinService(ctx, self.membership, self.peers, self.heartbeats)
        self.view = ClusterView(ctx, self.membership, telemetry)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.view, self.joins)

    def advert(self) -> Advert:
        me = self.membership.me()
        cluster_id = self.membership.cluster_id if self.membership.in_cluster() else None
        return Advert(
            node_id=me.node_id,
            name=me.name,
            cluster_id=cluster_id,
            peer_port=me.peer_port,
            fingerprint=me.fingerprint,
            version=me.version,
        )

    def is_member(self, node_id: str) -> bool:
        member = self.membership.members.get(node_id)
        return member is not None and member.status == MEMBER and node_id != self.membership.node_id

    async def on_member_address(self, node_id: str, addresses: list[str], peer_port: int) -> None:
        """mDNS saw a member at new addresses: try those first (its own entry still rules)."""
        self.membership.set_observed(node_id, tuple(addresses))

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.membership, self.heartbeats, self.joins, self.nonces)

    async def start(self) -> None:
        await self.store.migrate()
        await self.membership.load()
        self.ctx.spawn("cluster.heartbeats", self.heartbeats.run)

    async def stop(self) -> None:
        await self.heartbeats.stop()
        await self.peers.close()


def create(ctx: Context, telemetry: TelemetrySource) -> ClusterSubsystem:
    return ClusterSubsystem(ctx, telemetry)
