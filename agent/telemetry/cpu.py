"""CPU load from `cpu_times` deltas.

psutil's own `cpu_percent` keeps its baseline per calling thread, and samples run on
whichever worker thread is free, so the shares are computed here between our own readings.
The first reading has no baseline and reports the average since boot (as `top` does).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psutil

from agent.telemetry.models import CpuTelemetry
from agent.telemetry.system import StaticInfo

log = logging.getLogger("openfabric.telemetry")

Times = tuple[float, float]  # (busy seconds, total seconds)


class CpuReader:
    def __init__(self) -> None:
        self._before: tuple[Times, list[Times]] | None = None

    def read(self, static: StaticInfo) -> CpuTelemetry:
        per_core = [busy_and_total(t) for t in psutil.cpu_times(percpu=True)]
        overall = (sum(b for b, _ in per_core), sum(t for _, t in per_core))
        before, self._before = self._before, (overall, per_core)
        return CpuTelemetry(
            percent=cpu_share(before[0] if before else None, overall),
            per_core=shares(before[1] if before else None, per_core),
            count_logical=static.count_logical,
            count_physical=static.count_physical,
            freq_mhz=frequency(),
            load=[round(x, 2) for x in psutil.getloadavg()],
        )


def empty_cpu(static: StaticInfo) -> CpuTelemetry:
    return CpuTelemetry(
        percent=0.0,
        per_core=[],
        count_logical=static.count_logical,
        count_physical=static.count_physical,
        freq_mhz=None,
        load=[0.0, 0.0, 0.0],
    )


def busy_and_total(times: Any) -> Times:
    """Busy and total CPU seconds of one `cpu_times` entry, counted as psutil counts them."""
    total = float(sum(times))
    # on Linux guest time is already included in user/nice
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


def cpu_share(before: Times | None, after: Times) -> float:
    """Percent busy between two readings; since boot when there is no earlier reading."""
    busy, total = after
    if before is not None:
        busy, total = busy - before[0], total - before[1]
    if total <= 0:
        return 0.0
    return round(min(100.0, max(0.0, busy / total * 100.0)), 1)


def shares(before: Sequence[Times] | None, after: Sequence[Times]) -> list[float]:
    if before is None or len(before) != len(after):
        return [cpu_share(None, a) for a in after]
    return [cpu_share(b, a) for b, a in zip(before, after, strict=True)]


def frequency() -> float | None:
    try:
        freq = psutil.cpu_freq()
    except Exception as exc:  # not implemented in some VMs and containers
        log.debug("cpu frequency unavailable: %r", exc)
        return None
    return float(freq.current) if freq and freq.current else None
