"""Cluster subsystem: membership view and pooled resources."""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.cluster.routes import build_routes
from agent.cluster.service import ClusterService, TelemetrySource
from agent.cluster.store import ClusterStore
from agent.core.subsystem import Context


class ClusterSubsystem:
    name = "cluster"

    def __init__(self, ctx: Context, telemetry: TelemetrySource) -> None:
        self.store = ClusterStore(ctx.db)
        self.service = ClusterService(ctx, self.store, telemetry)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service)

    async def start(self) -> None:
        await self.store.migrate()
        await self.service.register_self()

    async def stop(self) -> None:
        return None


def create(ctx: Context, telemetry: TelemetrySource) -> ClusterSubsystem:
    return ClusterSubsystem(ctx, telemetry)
