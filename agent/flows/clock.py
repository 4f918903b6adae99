"""Time as flows see it: one clock for triggers, retries and waits, so tests can move it.

`now()` is wall-clock seconds (epoch): cron times, wait deadlines and run timestamps are
stored in it and survive a restart. `sleep_until(t)` returns once `now() >= t` (at once when
`t` has passed). A `FakeClock` only moves when told, and wakes exactly the sleepers whose time
came, in time order.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Protocol

import anyio


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep_until(self, when: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, when: float) -> None:
        # The wall clock can jump (NTP, suspend): wake up at most every minute to look again.
        left = when - time.time()
        while left > 0:
            await anyio.sleep(min(left, 60.0))
            left = when - time.time()


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, woken in self._sleepers if not woken.is_set())

    async def sleep_until(self, when: float) -> None:
        if when <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        woken = anyio.Event()
        heapq.heappush(self._sleepers, (when, next(self._order), woken))
        try:
            await woken.wait()
        finally:
            # A cancelled sleeper no longer counts (its entry leaves the heap when due).
            woken.set()

    def advance(self, seconds: float) -> None:
        """Move time on and wake every sleeper whose time has come."""
        self.set(self._now + seconds)

    def set(self, when: float) -> None:
        self._now = max(self._now, when)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            heapq.heappop(self._sleepers)[2].set()
