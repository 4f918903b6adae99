"""A per-attempt time limit on the flows clock (anyio's own limits follow the monotonic clock,
which a test cannot move)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from agent.flows.clock import Clock

T = TypeVar("T")


class TimedOut(Exception):
    pass


async def within(clock: Clock, deadline: float | None, job: Callable[[], Awaitable[T]]) -> T:
    """`job()`'s result, or TimedOut once the clock reaches `deadline` first."""
    if deadline is None:
        return await job()
    results: list[T] = []
    errors: list[Exception] = []
    timed_out = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            nonlocal timed_out
            await clock.sleep_until(deadline)
            timed_out = True
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            results.append(await job())
        except Exception as exc:  # raised below, outside the task group's exception group
            errors.append(exc)
        finally:
            group.cancel_scope.cancel()
    if errors:
        raise errors[0]
    if results:
        return results[0]
    if timed_out:
        raise TimedOut
    raise anyio.get_cancelled_exc_class()()
