"""One timer loop for every cron and interval trigger.

A heap holds (due time, entry id, trigger); the loop sleeps on the clock until the earliest
is due, fires what is due and plans each one's next time, so with any number of armed flows
it wakes only when something is due. `arm` replaces the set: entries of triggers that went
away or changed are left in the heap and skipped when they surface (each has an id the
trigger's live timer no longer carries); an unchanged trigger keeps its planned time. When
`arm` brings a time earlier than the one slept for, the sleep is cut short and re-planned.

Each wake fires a due trigger once, for its latest scheduled time not after now: after a
stall or a clock jump the times in between are dropped, not fired in a burst. A slot at or
before `last_fired` (fired already, here or on another member) never fires again.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import anyio

from agent.flows.clock import Clock
from agent.flows.models import TriggerKind
from agent.flows.triggers.model import Firing, TriggerKey
from agent.flows.triggers.schedule import Schedule

log = logging.getLogger("openfabric.flows")


@dataclass(frozen=True)
class Plan:
    """What a time-based trigger is armed with; `spec` tells whether it changed."""

    kind: TriggerKind
    # Built anew at each arm; compared through `spec`, so an unchanged trigger keeps its timer.
    schedule: Schedule = field(compare=False)
    spec: object = None


@dataclass
class _Timer:
    plan: Plan
    due: float | None
    entry: int


class TimerLoop:
    def __init__(
        self,
        clock: Clock,
        submit: Callable[[Firing], bool],
        last_fired: Callable[[str, int], float | None],
    ) -> None:
        self._clock = clock
        self._submit = submit
        self._last_fired = last_fired
        self._timers: dict[TriggerKey, _Timer] = {}
        self._heap: list[tuple[float, int, TriggerKey]] = []
        self._entries = itertools.count()
        self._sleep: tuple[anyio.CancelScope, float | None] | None = None
        self.wakeups = 0

    def arm(self, wanted: Mapping[TriggerKey, Plan]) -> list[TriggerKey]:
        """Replace the armed set; answers the keys armed anew (not kept from before)."""
        for key in [k for k, t in self._timers.items() if wanted.get(k) != t.plan]:
            del self._timers[key]
        now = self._clock.now()
        added = [key for key in wanted if key not in self._timers]
        for key in added:
            self._timers[key] = _Timer(wanted[key], None, -1)
            self._plan(key, wanted[key].schedule.next_after(now))
        if len(self._heap) > 2 * len(self._timers) + 64:
            self._compact()
        self._wake_if_earlier()
        return added

    @property
    def idle(self) -> bool:
        """Asleep until the next due time: nothing due is left to fire."""
        if self._sleep is None:
            return False
        target = self._sleep[1]
        return target is None or target > self._clock.now()

    def next_at(self, key: TriggerKey) -> float | None:
        timer = self._timers.get(key)
        return timer.due if timer else None

    async def run(self) -> None:
        while True:
            self._fire_due(self._clock.now())
            target = self._earliest()
            with anyio.CancelScope() as scope:
                self._sleep = (scope, target)
                try:
                    if target is None:
                        await anyio.sleep_forever()
                    else:
                        await self._clock.sleep_until(target)
                finally:
                    self._sleep = None
            self.wakeups += 1

    def _plan(self, key: TriggerKey, due: float | None) -> None:
        timer = self._timers[key]
        timer.due, timer.entry = due, next(self._entries)
        if due is not None:
            heapq.heappush(self._heap, (due, timer.entry, key))

    def _live(self, entry: int, key: TriggerKey) -> bool:
        timer = self._timers.get(key)
        return timer is not None and timer.entry == entry

    def _earliest(self) -> float | None:
        while self._heap and not self._live(self._heap[0][1], self._heap[0][2]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if self._live(e[1], e[2])]
        heapq.heapify(self._heap)

    def _wake_if_earlier(self) -> None:
        if self._sleep is None:
            return
        scope, target = self._sleep
        earliest = self._earliest()
        if earliest is not None and (target is None or earliest < target):
            scope.cancel()
            self._sleep = None

    def _fire_due(self, now: float) -> None:
        while (earliest := self._earliest()) is not None and earliest <= now:
            _, _, key = heapq.heappop(self._heap)
            plan = self._timers[key].plan
            try:
                at, after = earliest, plan.schedule.next_after(earliest)
                if after is not None and after <= now:
                    # Behind by more than one period: only the latest due time fires.
                    at = max(earliest, plan.schedule.latest_until(now) or earliest)
                    after = plan.schedule.next_after(max(at, now))
            except Exception:  # one odd schedule must not stop every other trigger
                log.exception("flow %s: trigger %d has no next time", *key)
                at, after = earliest, None
            self._fire(key, plan, at, catch_up=False)
            self._plan(key, after)

    def _fire(self, key: TriggerKey, plan: Plan, at: float, *, catch_up: bool) -> None:
        fired = self._last_fired(*key)
        if fired is not None and at <= fired:
            return
        payload = plan.schedule.payload(at, catch_up=catch_up)
        self._submit(Firing(key[0], key[1], plan.kind, plan.schedule.slot(at), at, payload))

    def catch_up(self, key: TriggerKey, now: float) -> None:
        """Fire once for the latest time missed since the last firing anywhere (none when
        the trigger never fired: a new flow does not run for times before it existed)."""
        timer = self._timers.get(key)
        fired = self._last_fired(*key)
        if timer is None or fired is None:
            return
        latest = timer.plan.schedule.latest_until(now)
        if latest is not None and latest > fired:
            self._fire(key, timer.plan, latest, catch_up=True)
