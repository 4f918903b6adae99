"""Cron schedules: five fields, evaluated in the trigger's time zone by cronsim.

Daylight saving time follows cronsim (as Debian cron does): a job at a fixed local time that
falls in a spring-forward gap runs at the first minute after the gap; one in a repeated hour
runs once, at its first occurrence; `*`-minute or `*`-hour jobs run at every real time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

FIELDS = 5
# A fold in a repeated hour can make cronsim answer a time on the wrong side of `when`; a
# few more steps always get past it.
_STEPS = 4


def validate_cron(expr: str, tz: str) -> str | None:
    """Why `expr` in time zone `tz` is not a schedule this project runs, or None when it is."""
    fields = expr.split()
    if len(fields) != FIELDS:
        return (
            f"a cron expression has five fields (minute hour day month weekday), not {len(fields)}"
        )
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {tz!r} (use an IANA name such as Europe/Paris)"
    try:
        CronSim(expr, datetime.now(zone))
    except CronSimError as exc:
        return f"invalid cron expression {expr!r}: {exc}"
    return None


def iso_utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CronSchedule:
    def __init__(self, expr: str, tz: str) -> None:
        problem = validate_cron(expr, tz)
        if problem:
            raise ValueError(problem)
        self.expr = expr
        self.zone = ZoneInfo(tz)

    def next_after(self, when: float) -> float | None:
        times = CronSim(self.expr, datetime.fromtimestamp(when, self.zone))
        for _ in range(_STEPS):
            found = _next(times)
            if found is None or found > when:
                return found
        return None

    def latest_until(self, when: float) -> float | None:
        # Reverse iteration yields times strictly before its start, a whole second after `when`.
        start = datetime.fromtimestamp(when, self.zone).replace(microsecond=0)
        times = CronSim(self.expr, start + timedelta(seconds=1), reverse=True)
        latest = None
        for _ in range(_STEPS):
            latest = _next(times)
            if latest is None or latest <= when:
                break
        if latest is None or latest > when:
            return None
        for _ in range(_STEPS):
            later = self.next_after(latest)
            if later is None or later > when:
                break
            latest = later
        return latest

    def slot(self, at: float) -> str:
        return iso_utc(at)

    def payload(self, at: float, *, catch_up: bool) -> dict[str, Any]:
        return {"scheduled_at": iso_utc(at), "catch_up": catch_up}


def _next(times: CronSim) -> float | None:
    try:
        return next(times).timestamp()
    except StopIteration:
        return None
