"""Interval schedules aligned to the epoch: slot n is due at n * interval, so every member
names the same slots and a slot fired on one is known fired on all."""

from __future__ import annotations

import math
from typing import Any

from agent.flows.triggers.cron import iso_utc


class IntervalSchedule:
    def __init__(self, interval: float) -> None:
        if not interval >= 1:
            raise ValueError("an interval is at least 1 second")
        self.interval = interval

    def number(self, at: float) -> int:
        # Rounded first: n * interval read back must name slot n again, floats or not.
        return math.floor(round(at / self.interval, 6))

    def next_after(self, when: float) -> float | None:
        n = self.number(when) + 1
        while n * self.interval <= when:
            n += 1
        return n * self.interval

    def latest_until(self, when: float) -> float | None:
        n = self.number(when)
        while n * self.interval > when:
            n -= 1
        return n * self.interval

    def slot(self, at: float) -> str:
        return str(self.number(at))

    def payload(self, at: float, *, catch_up: bool) -> dict[str, Any]:
        slot: dict[str, Any] = {"slot": self.number(at)}
        if catch_up:
            slot |= {"catch_up": True, "scheduled_at": iso_utc(at)}
        return slot
