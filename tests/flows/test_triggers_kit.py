"""What the trigger tests share: definitions, a recording engine, and a running `Triggers`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from agent.core.bus import EventBus
from agent.flows.clock import FakeClock
from agent.flows.definition import FlowDefinition
from agent.flows.triggers import ArmedFlow, Firing, Triggers
from tests.harness import async_wait_until

# 2026-01-01T00:00:00Z, a whole hour (so a whole minute and a whole 15 s) of UTC.
START = 1_767_225_600.0


def armed(flow_id: str, *triggers: dict[str, Any], version: int = 1, **fields: Any) -> ArmedFlow:
    definition = FlowDefinition.model_validate(
        {
            "name": flow_id,
            "triggers": list(triggers),
            "steps": [{"id": "go", "uses": "wait", "with": {"duration": "1s"}}],
            **fields,
        }
    )
    return ArmedFlow(flow_id, version, definition)


class Engine:
    """Records firings and, as the engine's store does, the latest time slot fired."""

    def __init__(self) -> None:
        self.firings: list[Firing] = []
        self.cursors: dict[tuple[str, int], float] = {}
        self.listing: dict[str, str] = {}
        self.listed = 0

    async def fire(self, firing: Firing) -> None:
        self.firings.append(firing)
        if firing.kind in ("cron", "interval"):
            key = (firing.flow_id, firing.trigger_index)
            self.cursors[key] = max(firing.at, self.cursors.get(key, firing.at))

    def last_fired(self, flow_id: str, index: int) -> float | None:
        return self.cursors.get((flow_id, index))

    async def list_storage(self) -> dict[str, str]:
        self.listed += 1
        return dict(self.listing)

    def of(self, flow_id: str) -> list[Firing]:
        return [f for f in self.firings if f.flow_id == flow_id]


def make_triggers(engine: Engine, clock: FakeClock, bus: EventBus | None = None) -> Triggers:
    return Triggers(
        bus=bus or EventBus(),
        clock=clock,
        fire=engine.fire,
        last_fired=engine.last_fired,
        list_storage=engine.list_storage,
    )


@asynccontextmanager
async def running(triggers: Triggers) -> AsyncIterator[Triggers]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(triggers.run)
        yield triggers
        tg.cancel_scope.cancel()


async def settle(condition: Callable[[], object], within: float = 5.0) -> None:
    """Wait until `condition` holds: a few loop turns first, then polling, bounded."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    await async_wait_until(condition, within, "the triggers to catch up")


async def settled(triggers: Triggers) -> None:
    """Wait until the timer loop sleeps with nothing due and every firing reached `fire`."""
    await settle(lambda: triggers.timers.idle and triggers.dispatcher.idle)


async def quiet() -> None:
    """Give every task many turns, for checks that nothing happens."""
    for _ in range(200):
        await asyncio.sleep(0)
