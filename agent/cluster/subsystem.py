"""The cluster subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.cluster.heartbeat import Heartbeats
from agent.cluster.join import JoinService
from agent.cluster.membership import Membership
from agent.cluster.peer_routes import build_peer_routes
from agent.cluster.routes import build_routes
from agent.cluster.service import ClusterReport
from agent.cluster.store import ClusterStore
from agent.cluster.view import MembershipView
from agent.core.subsystem import Context
from agent.peer.signing import NonceCache


class ClusterSubsystem:
    name = "cluster"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ClusterStore(ctx.db)
        self.membership = Membership(ctx, self.store)
        self.view = MembershipView(ctx, self.membership, ctx.telemetry)
        # Requests must name this node; nonces of future-dated ones survive a restart.
        self.nonces = NonceCache(
            ctx.identity.node_id, journal=ctx.settings.home / "peer-nonces.log"
        )
        self.heartbeats = Heartbeats(ctx, self.membership, ctx.peers, ctx.telemetry)
        self.joins = JoinService(ctx, self.membership, ctx.peers, self.heartbeats)
        self.report = ClusterReport(ctx, self.membership)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.report, self.joins)

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.membership, self.heartbeats, self.joins, self.nonces)

    def peer_key_of(self, node_id: str) -> tuple[str, str] | None:
        """The key and standing the peer listener verifies a caller's signature with."""
        return self.membership.key_of(node_id)

    async def start(self) -> None:
        await self.store.migrate()
        await self.membership.load()
        self.ctx.spawn("cluster.heartbeats", self.heartbeats.run)

    async def stop(self) -> None:
        await self.heartbeats.stop()


def create(ctx: Context) -> ClusterSubsystem:
    subsystem = ClusterSubsystem(ctx)
    ctx.provide_cluster(subsystem.view)
    return subsystem
