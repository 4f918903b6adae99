"""Health checks: each answers pass, warn or fail with a reason.

The report is `healthy` (200) unless a check fails, then `unhealthy` (503); warnings keep 200
but show as `degraded`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Awaitable, Callable

from agent.core.subsystem import Context
from agent.ops.models import HealthCheck, HealthReport

PASS, WARN, FAIL = "pass", "warn", "fail"
LOW_DISK_BYTES = 512 * 1024 * 1024
LOW_DISK_FRACTION = 0.02


Check = Callable[[], Awaitable[tuple[str, str]]]


class HealthService:
    def __init__(self, ctx: Context, telemetry_age: Callable[[], float | None]) -> None:
        self.ctx = ctx
        self.telemetry_age = telemetry_age
        self.checks: dict[str, Check] = {
            "database": self._database,
            "disk": self._disk,
            "telemetry": self._telemetry,
            "event_bus": self._event_bus,
        }

    async def report(self) -> tuple[int, HealthReport]:
        results = [await self._run(name, check) for name, check in self.checks.items()]
        statuses = {r.status for r in results}
        overall = "unhealthy" if FAIL in statuses else "degraded" if WARN in statuses else "healthy"
        report = HealthReport(
            status=overall,
            node_id=self.ctx.identity.node_id,
            version=self.ctx.version,
            uptime_s=round(self.ctx.clock() - self.ctx.started_at, 3),
            checks=results,
        )
        return (503 if overall == "unhealthy" else 200), report

    async def _run(self, name: str, check: Check) -> HealthCheck:
        begin = time.perf_counter()
        try:
            status, detail = await check()
        except Exception as exc:
            status, detail = FAIL, f"check raised {type(exc).__name__}: {exc}"
        elapsed = round((time.perf_counter() - begin) * 1000, 3)
        return HealthCheck(name=name, status=status, detail=detail, duration_ms=elapsed)

    async def _database(self) -> tuple[str, str]:
        if not self.ctx.db.is_open:
            return FAIL, "database is not open"
        row = await self.ctx.db.fetchone("PRAGMA quick_check")
        result = row[0] if row else "no answer"
        return (PASS, "quick_check ok") if result == "ok" else (FAIL, f"quick_check: {result}")

    async def _disk(self) -> tuple[str, str]:
        usage = shutil.disk_usage(self.ctx.settings.home)
        free_gib = usage.free / 2**30
        if usage.free < LOW_DISK_BYTES or usage.free < usage.total * LOW_DISK_FRACTION:
            return WARN, f"only {free_gib:.2f} GiB free under {self.ctx.settings.home}"
        return PASS, f"{free_gib:.1f} GiB free under {self.ctx.settings.home}"

    async def _telemetry(self) -> tuple[str, str]:
        age = self.telemetry_age()
        limit = max(5.0, self.ctx.settings.telemetry_interval * 5)
        if age is None:
            return WARN, "no telemetry sample yet"
        if age > limit:
            return WARN, f"last sample is {age:.1f}s old"
        return PASS, f"last sample {age:.1f}s ago"

    async def _event_bus(self) -> tuple[str, str]:
        bus = self.ctx.bus
        if bus.closed:
            return FAIL, "event bus is closed"
        subscribers = bus.subscriber_count
        noun = "subscriber" if subscribers == 1 else "subscribers"
        return PASS, f"{subscribers} {noun}, {bus.dropped_total} events dropped"
