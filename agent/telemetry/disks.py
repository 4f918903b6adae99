"""Filesystems, the storage this node can pool, and disk throughput."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from agent.telemetry.counters import RateTracker
from agent.telemetry.models import DiskIoTelemetry, DiskTelemetry, StorageTelemetry

log = logging.getLogger("openfabric.telemetry")

# Mounts change rarely and listing them parses /proc/self/mounts, so the list is cached.
PARTITIONS_EVERY = 30.0


def real_partitions() -> list[Any]:
    return psutil.disk_partitions(all=False)


class DiskReader:
    def __init__(
        self,
        list_partitions: Callable[[], list[Any]] = real_partitions,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_partitions = list_partitions
        self._monotonic = monotonic
        self._partitions: list[Any] = []
        self._listed_at: float | None = None

    def disks(self) -> list[DiskTelemetry]:
        """Every real filesystem once per device; unreadable mounts are left out."""
        now = self._monotonic()
        if self._listed_at is None or now - self._listed_at >= PARTITIONS_EVERY:
            self._partitions = self._list_partitions()
            self._listed_at = now
        disks: list[DiskTelemetry] = []
        seen: set[str] = set()
        for part in self._partitions:
            if part.device in seen:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError as exc:
                # permissions, vanished or stale network mounts; a later mount of the same
                # device may still be readable, so it is not marked seen
                log.debug("skipping filesystem %s: %s", part.mountpoint, exc)
                continue
            seen.add(part.device)
            disks.append(
                DiskTelemetry(
                    mountpoint=part.mountpoint,
                    device=part.device,
                    fstype=part.fstype,
                    total=usage.total,
                    used=usage.used,
                    free=usage.free,
                    percent=float(usage.percent),
                )
            )
        return disks


def storage(home: Path) -> StorageTelemetry:
    usage = psutil.disk_usage(str(_existing(home)))
    return StorageTelemetry(path=str(home), total=usage.total, used=usage.used, free=usage.free)


def empty_storage(home: Path) -> StorageTelemetry:
    return StorageTelemetry(path=str(home), total=0, used=0, free=0)


def disk_io(rates: RateTracker, now: float) -> DiskIoTelemetry | None:
    io = psutil.disk_io_counters(perdisk=False)
    if io is None:  # no disks psutil can see (some containers)
        return None
    counters = (io.read_bytes, io.write_bytes, io.read_count, io.write_count)
    read_b, write_b, read_ops, write_ops = rates.rates("disk", now, counters)
    return DiskIoTelemetry(
        read_bytes_per_s=read_b,
        write_bytes_per_s=write_b,
        read_ops_per_s=read_ops,
        write_ops_per_s=write_ops,
    )


def _existing(path: Path) -> Path:
    # before the first start the home folder may not exist yet: measure its filesystem
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path
