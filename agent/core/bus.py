"""In-process publish/subscribe with replay.

Contract:
- `publish` never blocks and never fails because of a subscriber. Each event gets the next
  sequence number; numbers start from the wall clock in microseconds at bus creation, so ids
  keep rising across restarts and a client's Last-Event-ID from an earlier run is never
  mistaken for a newer event.
- Each event is serialized once, when it is made: `Event.frame` is its SSE frame, shared by
  every subscriber, so fan-out and replay cost no encoding per client.
- The last `ring_size` events are kept for replay, except those of live-only topics
  (`Topic.replay` false: samples that the next one supersedes, published every second per
  member), which would otherwise push the events worth replaying out of the ring. A resuming
  subscriber gets at most
  `queue_size` of them (the newest that match its topics), so a replay is no bigger than the
  queue that bounds a live client. When events it asked for were lost (older than the ring)
  or left out (beyond that bound), a `stream.gap` event first says how many.
- Each subscriber has a bounded queue; when it is full the oldest queued event is dropped and
  counted (per subscriber and in `dropped_total`), so a slow client never stalls others.
- A subscriber that asks to resume gets, after the replayed events, a `stream.replayed` marker
  (carrying the last replayed id) so it knows where history ends and live events begin.
- A topic filter matches a topic equal to it or below it (`node` matches `node.telemetry`);
  `*` or no filter matches everything.
- `close` ends every subscription; iteration then stops.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.core.events import P, Topic
from agent.core.stream_events import STREAM_GAP, STREAM_REPLAYED, StreamGap, StreamReplayed

GAP_TOPIC = STREAM_GAP.name
REPLAYED_TOPIC = STREAM_REPLAYED.name


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    topic: str
    data: dict[str, Any]
    ts: float
    frame: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.frame:
            object.__setattr__(self, "frame", sse_frame(self.topic, self.seq, self.data))


def sse_frame(topic: str, seq: int, data: object) -> bytes:
    """`event:`, `id:` and one `data:` line; compact JSON has no raw newline to split on."""
    body = json.dumps(data, separators=(",", ":"), default=str)
    return f"event: {topic}\nid: {seq}\ndata: {body}\n\n".encode()


def topic_matches(filters: frozenset[str], topic: str) -> bool:
    if not filters or "*" in filters:
        return True
    if topic in filters:
        return True
    return any(topic.startswith(f + ".") for f in filters)


@dataclass(eq=False)
class Subscription:
    filters: frozenset[str]
    maxsize: int
    dropped: int = 0
    _queue: deque[Event] = field(default_factory=deque)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False

    def offer(self, event: Event, *, replay: bool = False) -> bool:
        """Queue the event; answers True when an older one had to be dropped for it.

        Replayed events are exempt from the bound (the bus replays at most `maxsize` of
        them), so the gap and end markers around a replay never push replayed events out.
        """
        dropped = not replay and len(self._queue) >= self.maxsize
        if dropped:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._wakeup.set()
        return dropped

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def get(self) -> Event | None:
        """The next event, or None once the subscription is closed and drained."""
        while not self._queue:
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    async def batch(self, limit: int) -> list[Event]:
        """The next events, at least one and at most `limit`; empty once closed and drained."""
        first = await self.get()
        if first is None:
            return []
        taken = [first]
        while self._queue and len(taken) < limit:
            taken.append(self._queue.popleft())
        return taken

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while (event := await self.get()) is not None:
            yield event


class EventBus:
    def __init__(self, ring_size: int = 2048, queue_size: int = 1000) -> None:
        self._ring: deque[Event] = deque(maxlen=ring_size)
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._next_seq = time.time_ns() // 1000
        self._closed = False
        self.published_total = 0
        self.dropped_total = 0

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, topic: Topic[P], payload: P) -> Event:
        """Publish `payload` (an instance of the topic's model) on `topic`."""
        return self._append(topic.name, topic.data(payload), kept=topic.replay)

    def _append(self, topic: str, data: dict[str, Any], *, kept: bool = True) -> Event:
        event = Event(self._next_seq, topic, data, time.time())
        self._next_seq += 1
        if kept:
            self._ring.append(event)
        self.published_total += 1
        for sub in self._subscribers:
            if topic_matches(sub.filters, topic) and sub.offer(event):
                self.dropped_total += 1
        return event

    def subscribe(
        self, topics: Iterable[str] = (), last_event_id: int | None = None
    ) -> Subscription:
        filters = frozenset(t for t in topics if t)
        sub = Subscription(filters, self._queue_size)
        if self._closed:
            sub.close()
            return sub
        if last_event_id is not None:
            self._replay(sub, last_event_id)
        self._subscribers.add(sub)
        return sub

    def _replay(self, sub: Subscription, last_event_id: int) -> None:
        replayed_up_to = max(last_event_id, self.last_seq)
        if last_event_id < self.last_seq:
            self._replay_ring(sub, last_event_id)
        marker = STREAM_REPLAYED.data(StreamReplayed(last_event_id=replayed_up_to))
        sub.offer(Event(replayed_up_to, REPLAYED_TOPIC, marker, time.time()), replay=True)

    def _replay_ring(self, sub: Subscription, last_event_id: int) -> None:
        # Newest first, stopping at the bound: the work per subscriber is at most the ring,
        # and what is queued never exceeds what a live client may hold.
        chosen: list[Event] = []
        skipped = 0
        for event in reversed(self._ring):
            if event.seq <= last_event_id:
                break
            if topic_matches(sub.filters, event.topic):
                if len(chosen) < sub.maxsize:
                    chosen.append(event)
                else:
                    skipped += 1
        oldest = self._ring[0].seq if self._ring else self._next_seq
        evicted = max(0, oldest - 1 - last_event_id)
        if evicted or skipped:
            resumed_at = chosen[-1].seq if chosen else self._next_seq
            gap = STREAM_GAP.data(
                StreamGap(
                    after=last_event_id,
                    resumed_at=resumed_at,
                    missed=evicted + skipped,
                    skipped=skipped,
                )
            )
            sub.offer(Event(resumed_at - 1, GAP_TOPIC, gap, time.time()), replay=True)
        for event in reversed(chosen):
            sub.offer(event, replay=True)

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        sub.close()

    def recent(self, topics: Iterable[str] = (), limit: int = 100) -> list[Event]:
        filters = frozenset(topics)
        matching = [e for e in self._ring if topic_matches(filters, e.topic)]
        return matching[-limit:]

    def close(self) -> None:
        self._closed = True
        for sub in list(self._subscribers):
            sub.close()
        self._subscribers.clear()


async def next_event(sub: Subscription, within: float) -> Event | None:
    """Wait at most `within` seconds for the subscription's next event."""
    try:
        return await asyncio.wait_for(sub.get(), within)
    except TimeoutError:
        return None
