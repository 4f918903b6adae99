"""One telemetry sample of this host, from psutil and NVML.

`HostSampler.collect()` blocks (it reads /proc, /sys and NVML), so callers run it in a worker
thread, one call at a time. Each part of the sample is collected on its own: a part that
fails is logged at debug, reported to `on_error` and replaced by its empty value, so one
broken filesystem or driver never costs the whole sample.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil

from agent.telemetry import disks
from agent.telemetry.counters import RateTracker
from agent.telemetry.cpu import CpuReader, empty_cpu
from agent.telemetry.gpu import GpuReader
from agent.telemetry.models import (
    DiskTelemetry,
    GpuTelemetry,
    MemoryTelemetry,
    NetworkTelemetry,
    SwapTelemetry,
    SystemTelemetry,
    TelemetrySample,
)
from agent.telemetry.network import network
from agent.telemetry.system import StaticInfo, hostname, load_static_info

log = logging.getLogger("openfabric.telemetry")

T = TypeVar("T")


class HostSampler:
    def __init__(
        self,
        *,
        node_id: str,
        home: Path,
        node_name: str,
        agent_version: str,
        started_at: float,
        gpu: GpuReader | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.node_id = node_id
        self.home = home
        self.node_name = node_name
        self.agent_version = agent_version
        self.started_at = started_at
        self.gpu = gpu or GpuReader()
        self.clock = clock
        self.monotonic = monotonic
        self.on_error = on_error
        self.cpu = CpuReader()
        self.filesystems = disks.DiskReader(monotonic=monotonic)
        self.rates = RateTracker()
        self._static: StaticInfo | None = None

    def collect(self) -> TelemetrySample:
        """Take one sample now (blocking)."""
        static = self._static_info()
        now = self.monotonic()
        part = self._part
        return TelemetrySample(
            ts=self.clock(),
            node_id=self.node_id,
            cpu=part("cpu", lambda: self.cpu.read(static), empty_cpu(static)),
            memory=part(
                "memory", memory, MemoryTelemetry(total=0, available=0, used=0, percent=0.0)
            ),
            swap=part("swap", swap, SwapTelemetry(total=0, used=0, free=0, percent=0.0)),
            disks=part("disks", self.filesystems.disks, list[DiskTelemetry]()),
            storage=part(
                "storage", lambda: disks.storage(self.home), disks.empty_storage(self.home)
            ),
            disk_io=part("disk_io", lambda: disks.disk_io(self.rates, now), None),
            network=part("network", lambda: network(self.rates, now), list[NetworkTelemetry]()),
            gpus=part("gpus", self.gpu.read, list[GpuTelemetry]()),
            system=part("system", lambda: self._system(static), self._bare_system(static)),
        )

    def close(self) -> None:
        self.gpu.shutdown()

    def _part(self, name: str, read: Callable[[], T], empty: T) -> T:
        try:
            return read()
        except Exception as exc:
            log.debug("telemetry part %s failed: %r", name, exc)
            if self.on_error is not None:
                self.on_error(name)
            return empty

    def _static_info(self) -> StaticInfo:
        if self._static is None:
            self._static = load_static_info()
        return self._static

    def _system(self, static: StaticInfo) -> SystemTelemetry:
        host = hostname()
        now = self.clock()
        return self._bare_system(static).model_copy(
            update={
                "hostname": host,
                "node_name": self.node_name or host,
                "uptime_s": max(0.0, now - static.boot_time) if static.boot_time else 0.0,
                "agent_uptime_s": max(0.0, now - self.started_at),
            }
        )

    def _bare_system(self, static: StaticInfo) -> SystemTelemetry:
        """The system part from static facts alone: also what a failed read falls back to."""
        return SystemTelemetry(
            hostname="",
            node_name=self.node_name,
            os=static.os,
            os_release=static.os_release,
            os_pretty=static.os_pretty,
            arch=static.arch,
            python=static.python,
            agent_version=self.agent_version,
            boot_time=static.boot_time,
            uptime_s=0.0,
            agent_uptime_s=0.0,
        )


def memory() -> MemoryTelemetry:
    vm = psutil.virtual_memory()
    return MemoryTelemetry(
        total=vm.total, available=vm.available, used=vm.used, percent=float(vm.percent)
    )


def swap() -> SwapTelemetry:
    sw = psutil.swap_memory()
    return SwapTelemetry(total=sw.total, used=sw.used, free=sw.free, percent=float(sw.percent))
