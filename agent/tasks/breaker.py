"""Per-node circuit breaker for the task scheduler (pure logic, injectable monotonic clock).

Contract:

* States: ``closed`` (dispatch freely), ``open`` (refuse), ``half_open`` (one probe allowed).
* Only dispatch/infrastructure failures count (node unreachable, connection refused, timeout
  talking to the agent...). The caller decides what to record; a command's own non-zero exit is
  a *result*, never recorded as a failure.
* In ``closed``, ``failure_threshold`` consecutive failures open the breaker; any success resets
  the consecutive count.
* ``open`` lasts ``open_for_s`` at first. Each consecutive re-open (a failed half-open probe)
  doubles the period up to ``max_open_for_s``: 30 s -> 60 -> 120 -> 240 -> 300 (cap). A success
  closes the breaker and resets the period to ``open_for_s``.
* Once the period has passed the breaker is ``half_open``; this is observed lazily, when
  ``state`` is read or ``allow()``/``record_*()`` is called. In ``half_open`` exactly one caller
  gets ``allow() == True`` (the probe) until that outcome is recorded or ``release_probe()`` is
  called (the probe was never used, e.g. dispatch aborted before contacting the node).
* ``record_success()`` closes from any state (the node answered). ``record_failure()`` in
  ``half_open`` re-opens with the doubled period; in ``open`` it is only counted.
* ``on_change(node_id, old, new)`` fires on every transition: closed->open, open->half_open,
  half_open->closed, half_open->open (and open->closed on a late success). It is called after
  the state has changed; exceptions it raises are logged and swallowed.
* Not thread-safe: use from one thread / one event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("openfabric.tasks")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

Clock = Callable[[], float]
OnChange = Callable[[str, str, str], None]


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5  # consecutive failures that open it
    open_for_s: float = 30.0  # first open period
    max_open_for_s: float = 300.0  # the period doubles on each re-open up to this

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if self.open_for_s <= 0 or self.max_open_for_s < self.open_for_s:
            raise ValueError("need 0 < open_for_s <= max_open_for_s")


class CircuitBreaker:
    def __init__(
        self,
        node_id: str,
        policy: BreakerPolicy | None = None,
        clock: Clock = time.monotonic,
        on_change: OnChange | None = None,
    ) -> None:
        self.node_id = node_id
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._on_change = on_change
        self._state = CLOSED
        self._failures = 0
        self._opened_count = 0
        self._period = self.policy.open_for_s
        self._retry_at: float | None = None
        self._last_failure_at: float | None = None
        self._probe_out = False

    def _set(self, new: str) -> None:
        old, self._state = self._state, new
        if new != OPEN:
            self._retry_at = None
        if new != HALF_OPEN:
            self._probe_out = False
        if old != new and self._on_change is not None:
            try:
                self._on_change(self.node_id, old, new)
            except Exception:
                log.exception("breaker on_change callback failed for %s", self.node_id)

    def _open(self, now: float) -> None:
        self._opened_count += 1
        self._retry_at = now + self._period
        self._set(OPEN)

    @property
    def state(self) -> str:
        if self._state == OPEN and self._retry_at is not None and self._clock() >= self._retry_at:
            self._set(HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def record_success(self) -> None:
        self.state  # noqa: B018 - observe a pending open->half_open first
        self._failures = 0
        self._period = self.policy.open_for_s
        self._set(CLOSED)

    def record_failure(self) -> None:
        state = self.state
        now = self._clock()
        self._failures += 1
        self._last_failure_at = now
        if state == HALF_OPEN:
            self._period = min(self._period * 2, self.policy.max_open_for_s)
            self._open(now)
        elif state == CLOSED and self._failures >= self.policy.failure_threshold:
            self._period = self.policy.open_for_s
            self._open(now)

    def release_probe(self) -> None:
        self._probe_out = False

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        now = self._clock()
        offset = time.time() - now
        retry = self._retry_at
        last = self._last_failure_at
        return {
            "node_id": self.node_id,
            "state": state,
            "consecutive_failures": self._failures,
            "opened_count": self._opened_count,
            "open_for_s": self._period,
            "next_retry_at": retry + offset if state == OPEN and retry is not None else None,
            "retry_in_s": max(0.0, retry - now) if state == OPEN and retry is not None else None,
            "last_failure_at": last + offset if last is not None else None,
            "probe_in_flight": self._probe_out,
        }


class BreakerBoard:
    """One breaker per node, created on demand, sharing policy, clock and on_change."""

    def __init__(
        self,
        policy: BreakerPolicy | None = None,
        clock: Clock = time.monotonic,
        on_change: OnChange | None = None,
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._on_change = on_change
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, node_id: str) -> CircuitBreaker:
        breaker = self._breakers.get(node_id)
        if breaker is None:
            breaker = CircuitBreaker(node_id, self.policy, self._clock, self._on_change)
            self._breakers[node_id] = breaker
        return breaker

    def snapshot(self) -> list[dict[str, Any]]:
        return [self._breakers[n].snapshot() for n in sorted(self._breakers)]

    def open_count(self) -> int:
        """Breakers not closed (open, or half open waiting on a probe)."""
        return sum(1 for b in self._breakers.values() if b.state != CLOSED)

    def forget(self, node_id: str) -> None:
        self._breakers.pop(node_id, None)
