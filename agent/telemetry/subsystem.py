"""The telemetry subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.telemetry import routes as _routes
from agent.telemetry.events import NODE_TELEMETRY
from agent.telemetry.gpu import GpuReader
from agent.telemetry.sampler import HostSampler
from agent.telemetry.service import TelemetryService

__all__ = ["NODE_TELEMETRY", "TelemetryService", "TelemetrySubsystem", "assemble", "create"]


class TelemetrySubsystem:
    name = "telemetry"

    def __init__(self, ctx: Context, service: TelemetryService) -> None:
        self._ctx = ctx
        self.service = service

    def routes(self) -> list[BaseRoute]:
        return _routes.routes(self.service, self._ctx)

    def peer_routes(self) -> list[BaseRoute]:
        return _routes.peer_routes(self.service)

    async def start(self) -> None:
        # one sample before the loop, so latest() is never None once the agent is up
        await self.service.sample_now()
        self._ctx.spawn("telemetry.sampler", self.service.run)

    async def stop(self) -> None:
        await self.service.stop()


def create(ctx: Context) -> TelemetrySubsystem:
    return assemble(ctx)


def assemble(ctx: Context, gpu: GpuReader | None = None) -> TelemetrySubsystem:
    """`create` with the GPU reader chosen (tests give it a fake NVML)."""
    settings = ctx.settings
    sampler = HostSampler(
        node_id=ctx.identity.node_id,
        home=settings.home,
        node_name=settings.node_name,
        agent_version=ctx.version,
        started_at=ctx.started_at,
        gpu=gpu,
        clock=ctx.clock,
    )
    service = TelemetryService(
        sampler=sampler,
        bus=ctx.bus,
        metrics=ctx.metrics,
        interval=settings.telemetry_interval,
        window=settings.telemetry_window,
        clock=ctx.clock,
    )
    ctx.provide_telemetry(service)
    return TelemetrySubsystem(ctx, service)
