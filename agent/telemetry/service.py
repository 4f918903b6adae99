"""This node's telemetry: a sampling loop, an in-memory ring of samples, and the bus feed.

Contract:
- `sample_now()` takes one sample in a worker thread (never on the event loop), appends it to
  the ring, publishes it as `node.telemetry` and answers it. Samples never overlap.
- `latest_sample()` is the newest sample; `latest()` is its JSON form (what heartbeats carry
  and what other subsystems read through `ctx.telemetry`), made once per sample.
- `run()` samples every `interval` seconds on a fixed schedule until `stop()`; when it falls
  behind (suspend, slow filesystem) it skips ahead instead of bursting.
- The ring holds `window / interval` samples, oldest first; `history(seconds)` answers those
  whose `ts` lies within the last `seconds` of the clock.
- `stop()` ends the loop and releases NVML; it returns as soon as an in-flight read is done.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import anyio
import anyio.to_thread

from agent.core.bus import EventBus
from agent.core.metrics import Metrics
from agent.telemetry.events import NODE_TELEMETRY
from agent.telemetry.models import TelemetrySample
from agent.telemetry.sampler import HostSampler

log = logging.getLogger("openfabric.telemetry")


class Summary(TypedDict):
    """The pooled figures of one sample (the cluster view adds them up)."""

    ts: float | None
    cpu_percent: float
    load: list[float]
    memory_total: int
    memory_available: int
    storage_total: int
    storage_free: int
    gpu_count: int
    vram_total: int
    vram_used: int


def ring_size(window: float, interval: float) -> int:
    return max(1, round(window / interval))


class TelemetryService:
    def __init__(
        self,
        *,
        sampler: HostSampler,
        bus: EventBus,
        metrics: Metrics,
        interval: float,
        window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval = interval
        self.window = window
        self._sampler = sampler
        self._bus = bus
        self._clock = clock
        self._ring: deque[TelemetrySample] = deque(maxlen=ring_size(window, interval))
        self._latest: Mapping[str, Any] | None = None
        self._lock = anyio.Lock()
        self._scope: anyio.CancelScope | None = None
        self._closed = False
        self._samples_total = metrics.counter("telemetry_samples_total", "Telemetry samples taken")
        self._sample_seconds = metrics.histogram(
            "telemetry_sample_seconds", "Time spent collecting one telemetry sample"
        )
        self._part_errors = metrics.counter(
            "telemetry_part_errors_total", "Telemetry parts that failed to collect", ["part"]
        )
        sampler.on_error = self._part_failed

    @property
    def node_id(self) -> str:
        return self._sampler.node_id

    def latest(self) -> Mapping[str, Any] | None:
        """The newest sample as JSON (read-only: the bus's subscribers share it)."""
        return self._latest

    def latest_sample(self) -> TelemetrySample | None:
        return self._ring[-1] if self._ring else None

    def history(self, seconds: float | None = None) -> list[TelemetrySample]:
        if seconds is None:
            return list(self._ring)
        cutoff = self._clock() - seconds
        return [s for s in self._ring if s.ts >= cutoff]

    def summary(self) -> Summary:
        return summarize(self.latest())

    def summarize(self, sample: Mapping[str, Any] | None) -> Summary:
        return summarize(sample)

    async def sample_now(self) -> TelemetrySample:
        async with self._lock:
            sample = await anyio.to_thread.run_sync(self._collect)
            self._ring.append(sample)
            # Published under the lock, so `latest()` always is the JSON of `latest_sample()`;
            # the event's data is that JSON, made once.
            self._latest = self._bus.publish(NODE_TELEMETRY, sample).data
        self._samples_total.inc()
        return sample

    async def run(self) -> None:
        with anyio.CancelScope() as scope:
            self._scope = scope
            next_at = time.monotonic() + self.interval
            while not self._closed:
                await anyio.sleep(max(0.0, next_at - time.monotonic()))
                try:
                    await self.sample_now()
                except Exception:
                    # collect() already absorbs per-part failures; this is a bug, but one
                    # bad sample must not end telemetry for the rest of the run
                    log.exception("telemetry sample failed")
                next_at += self.interval
                now = time.monotonic()
                if next_at < now:
                    next_at = now + self.interval

    async def stop(self) -> None:
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
        await anyio.to_thread.run_sync(self._sampler.close)

    def _collect(self) -> TelemetrySample:
        started = time.perf_counter()
        sample = self._sampler.collect()
        self._sample_seconds.observe(time.perf_counter() - started)
        return sample

    def _part_failed(self, part: str) -> None:
        self._part_errors.labels(part).inc()


def summarize(sample: Mapping[str, Any] | None) -> Summary:
    """The pooled figures of a sample in its JSON form (this node's, or what a member's
    heartbeat carried); zeros (and `ts` None) before the first one. Raises KeyError or
    TypeError for a sample of another shape."""
    if sample is None:
        return {
            "ts": None,
            "cpu_percent": 0.0,
            "load": [0.0, 0.0, 0.0],
            "memory_total": 0,
            "memory_available": 0,
            "storage_total": 0,
            "storage_free": 0,
            "gpu_count": 0,
            "vram_total": 0,
            "vram_used": 0,
        }
    gpus = sample["gpus"]
    return {
        "ts": sample["ts"],
        "cpu_percent": sample["cpu"]["percent"],
        "load": list(sample["cpu"]["load"]),
        "memory_total": sample["memory"]["total"],
        "memory_available": sample["memory"]["available"],
        "storage_total": sample["storage"]["total"],
        "storage_free": sample["storage"]["free"],
        "gpu_count": len(gpus),
        "vram_total": sum(g["memory_total"] for g in gpus),
        "vram_used": sum(g["memory_used"] for g in gpus),
    }
