"""Operational metrics on a per-agent prometheus_client registry.

Subsystems create their own counters and gauges through `counter`/`gauge`/`histogram` (all
names get the `openfabric_` prefix). `/api/metrics` renders the same registry as JSON or as
Prometheus text exposition.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "openfabric_"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class _CallbackCollector(Collector):
    """Gauges whose values are read when scraped, so hot paths keep plain attributes."""

    def __init__(self) -> None:
        self._metrics: list[tuple[str, str, str, Callable[[], float]]] = []

    def add(self, kind: str, name: str, help: str, read: Callable[[], float]) -> None:
        self._metrics.append((kind, name, help, read))

    def collect(self) -> Any:
        for kind, name, help, read in self._metrics:
            family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            yield family(name, help, value=float(read()))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._callbacks = _CallbackCollector()
        self.registry.register(self._callbacks)
        self.http_requests = self.counter(
            "http_requests_total", "HTTP requests handled", ["method", "route", "status"]
        )
        self.http_latency = self.histogram(
            "http_request_duration_seconds", "HTTP request handling time", ["route"]
        )

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(PREFIX + name, help, list(labels), registry=self.registry)

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(PREFIX + name, help, list(labels), registry=self.registry)

    def histogram(self, name: str, help: str, labels: Sequence[str] = ()) -> Histogram:
        return Histogram(
            PREFIX + name, help, list(labels), registry=self.registry, buckets=_LATENCY_BUCKETS
        )

    def gauge_callback(self, name: str, help: str, read: Callable[[], float]) -> None:
        self._callbacks.add("gauge", PREFIX + name, help, read)

    def counter_callback(self, name: str, help: str, read: Callable[[], float]) -> None:
        """A counter kept elsewhere as a plain int; `name` without the `_total` suffix."""
        self._callbacks.add("counter", PREFIX + name, help, read)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(route).observe(seconds)

    def prometheus_text(self) -> bytes:
        return generate_latest(self.registry)

    def as_json(self) -> list[dict[str, Any]]:
        families = []
        for family in self.registry.collect():
            samples = [
                {"name": s.name, "labels": dict(s.labels), "value": _finite(s.value)}
                for s in family.samples
                if not s.name.endswith("_created")
            ]
            families.append(
                {
                    "name": family.name,
                    "type": family.type,
                    "help": family.documentation,
                    "samples": samples,
                }
            )
        return families


def _finite(value: float) -> float | str:
    """JSON has no infinity; histogram bucket bounds use it."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value
