"""The ops subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.ops.health import HealthService
from agent.ops.routes import build_routes


class OpsSubsystem:
    name = "ops"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

        def telemetry_age() -> float | None:
            sample = ctx.telemetry.latest()
            return None if sample is None else max(0.0, ctx.clock() - sample["ts"])

        self.health = HealthService(ctx, telemetry_age)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.health, self.ctx.metrics)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def create(ctx: Context) -> OpsSubsystem:
    return OpsSubsystem(ctx)
