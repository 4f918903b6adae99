"""The `wait` step, durable: its end (`wake_at`) is persisted before it sleeps, so after a
restart it goes on waiting until then (at once when that time has passed).

An event wait subscribes before it persists `waiting`, so an event published right after the
step says it waits is not missed; events published while the agent was down are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from agent.core.bus import EventBus
from agent.flows.actions.base import StepFailed
from agent.flows.actions.params import WaitParams
from agent.flows.clock import Clock
from agent.flows.engine.scope import event_scope, off_loop
from agent.flows.expressions import ExpressionError, compile_condition

# Persists the step as waiting until the given time (None: no end), then publishes it.
MarkWaiting = Callable[[float | None], Awaitable[None]]


async def wait_step(
    params: WaitParams,
    *,
    bus: EventBus,
    clock: Clock,
    wake_at: float | None,
    mark_waiting: MarkWaiting,
) -> dict[str, Any]:
    began = clock.now()
    if params.duration is not None:
        ends = wake_at if wake_at is not None else began + params.duration
        await mark_waiting(ends)
        await clock.sleep_until(ends)
        return {"waited_s": max(0.0, clock.now() - began), "event": None}
    assert params.event is not None
    condition = compile_condition(params.filter) if params.filter else None
    until = wake_at
    if until is None and params.timeout is not None:
        until = began + params.timeout
    subscription = bus.subscribe([params.event])
    try:
        await mark_waiting(until)
        found: dict[str, Any] | None = None
        async with anyio.create_task_group() as group:

            async def expire() -> None:
                if until is not None:
                    await clock.sleep_until(until)
                    group.cancel_scope.cancel()

            group.start_soon(expire)
            async for event in subscription:
                scope = event_scope(event.topic, event.seq, event.data)
                try:
                    if condition is not None and not await off_loop(condition.holds, scope):
                        continue
                except ExpressionError:
                    continue
                found = scope["event"]
                group.cancel_scope.cancel()
                break
    finally:
        bus.unsubscribe(subscription)
    if found is None:
        raise StepFailed(f"no {params.event} event came within {params.timeout or 0:g} s")
    return {"waited_s": max(0.0, clock.now() - began), "event": found}
