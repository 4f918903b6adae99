"""The pulse subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

import logging

import anyio
from starlette.routing import BaseRoute

from agent.core.bus import Subscription
from agent.core.subsystem import Context
from agent.pulse.notices import PulseNotices
from agent.pulse.peer_routes import build_peer_routes
from agent.pulse.routes import build_routes
from agent.pulse.service import PulseService

log = logging.getLogger("openfabric.pulse")
# What the ledger counts; names, not imports: subsystems do not import one another.
LEDGER_TOPICS = ("task", "llm.generated")


class PulseSubsystem:
    name = "pulse"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.service = PulseService(ctx)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service)

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.service)

    async def start(self) -> None:
        # A wrong rules file raises here, with its name, line and problem: the agent does
        # not start with rules nobody meant.
        await self.service.load()
        # Subscribed now, not when the job first runs: nothing published meanwhile is missed.
        subscription = self.ctx.bus.subscribe(LEDGER_TOPICS)
        self.ctx.spawn("pulse.ledger", lambda: self._count(subscription))
        self.ctx.spawn("pulse.evaluate", self._evaluate)
        self.ctx.spawn("pulse.push", self.service.push_now_and_then)

    async def _evaluate(self) -> None:
        while True:
            try:
                await self.service.tick()
            except Exception:
                log.exception("pulse evaluation failed")
            await anyio.sleep(self.service.interval)

    async def _count(self, subscription: Subscription) -> None:
        try:
            async for event in subscription:
                if event.topic == "llm.generated":
                    self.service.ledger.record_generation(event.data, self.ctx.clock())
                else:
                    self.service.ledger.record_task(event.data, self.ctx.clock())
        finally:
            self.ctx.bus.unsubscribe(subscription)

    async def stop(self) -> None:
        return None


def create(ctx: Context) -> PulseSubsystem:
    pulse = PulseSubsystem(ctx)
    ctx.provide_notices(PulseNotices(pulse.service))
    return pulse
