"""Event triggers: one bus subscription covers every armed topic.

A trigger's topic matches as the bus defines it (the topic itself or any below it), then its
filter must hold over `event`. A flow triggered by its own `flow.*` events can loop; nothing is
refused, but each trigger fires at most `RATE` times per second and the rest are dropped and
counted, so a loop cannot take the node down.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from agent.core.bus import Event, EventBus, Subscription, topic_matches
from agent.flows.clock import Clock
from agent.flows.triggers.filters import Filter
from agent.flows.triggers.model import Firing, TriggerKey, bounded_data

log = logging.getLogger("openfabric.flows")
RATE = 10
RATE_WINDOW_S = 1.0


@dataclass
class EventWatch:
    topic: str
    filter: Filter | None
    spec: object
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RATE))
    dropped: int = 0


class Subscriber:
    """One subscription whose topics can change: the new one is made before the old one is
    closed, so no event falls between them; the old one is read to its end first."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._topics: frozenset[str] = frozenset()
        self._current: Subscription | None = None
        self._pending: deque[Subscription] = deque()
        self._more = asyncio.Event()

    def follow(self, topics: Iterable[str]) -> None:
        wanted = frozenset(topics)
        if wanted == self._topics:
            return
        self._topics = wanted
        old, self._current = self._current, self._bus.subscribe(wanted) if wanted else None
        if self._current is not None:
            self._pending.append(self._current)
            self._more.set()
        if old is not None:
            self._bus.unsubscribe(old)

    async def next(self) -> Event:
        """The next event of the topics followed; waits while none are."""
        while True:
            while self._pending:
                event = await self._pending[0].get()
                if event is not None:
                    return event
                self._pending.popleft()
            self._more.clear()
            await self._more.wait()

    def close(self) -> None:
        self.follow(())


class EventTriggers:
    def __init__(self, clock: Clock, submit: Callable[[Firing], bool]) -> None:
        self._clock = clock
        self._submit = submit
        self.watches: dict[TriggerKey, EventWatch] = {}

    def arm(self, wanted: Mapping[TriggerKey, EventWatch]) -> None:
        kept = {k: w for k, w in self.watches.items() if k in wanted and wanted[k].spec == w.spec}
        self.watches = {k: kept.get(k, w) for k, w in wanted.items()}

    @property
    def topics(self) -> set[str]:
        return {w.topic for w in self.watches.values()}

    def dropped(self, key: TriggerKey) -> int:
        watch = self.watches.get(key)
        return watch.dropped if watch else 0

    async def handle(self, event: Event) -> None:
        now = self._clock.now()
        due: list[tuple[TriggerKey, EventWatch]] = []
        for key, watch in self.watches.items():
            if not topic_matches(frozenset((watch.topic,)), event.topic):
                continue
            if len(watch.recent) == RATE and now - watch.recent[0] < RATE_WINDOW_S:
                # Over the rate whatever its filter says: not even evaluated.
                watch.dropped += 1
                if watch.dropped in (1, 100) or watch.dropped % 10_000 == 0:
                    log.warning(
                        "flow %s: %d events dropped (over %d/s)", key[0], watch.dropped, RATE
                    )
                continue
            due.append((key, watch))
        if not due:
            return
        scope = {"event": {"topic": event.topic, "id": event.seq, "data": event.data}}
        filters = [w.filter for _, w in due if w.filter is not None]
        held = iter(await _evaluated(filters, scope) if filters else [])
        payload = {"topic": event.topic, "id": event.seq, "data": bounded_data(event.data)}
        slot = f"{event.topic}#{event.seq}"
        for key, watch in due:
            if watch.filter is not None and not next(held):
                continue
            watch.recent.append(self._clock.now())
            self._submit(Firing(key[0], key[1], "event", slot, self._clock.now(), dict(payload)))


async def _evaluated(filters: list[Filter], scope: dict[str, Any]) -> list[bool]:
    # The evaluator is a separate process answering over a pipe: never wait on it in the loop.
    return await anyio.to_thread.run_sync(lambda: [f(scope) for f in filters])
