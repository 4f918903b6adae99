"""Network interfaces and their throughput (loopback left out: it is not cluster traffic)."""

from __future__ import annotations

from typing import Any

import psutil

from agent.telemetry.counters import RateTracker
from agent.telemetry.models import NetworkTelemetry

PREFIX = "net:"


def network(rates: RateTracker, now: float) -> list[NetworkTelemetry]:
    counters = psutil.net_io_counters(pernic=True)
    stats = psutil.net_if_stats()
    interfaces: list[NetworkTelemetry] = []
    for name, io in sorted(counters.items()):
        stat = stats.get(name)
        if is_loopback(name, stat):
            continue
        totals = (io.bytes_recv, io.bytes_sent, io.packets_recv, io.packets_sent)
        rx_b, tx_b, rx_p, tx_p = rates.rates(PREFIX + name, now, totals)
        interfaces.append(
            NetworkTelemetry(
                name=name,
                rx_bytes_per_s=rx_b,
                tx_bytes_per_s=tx_b,
                rx_packets_per_s=rx_p,
                tx_packets_per_s=tx_p,
                rx_bytes_total=io.bytes_recv,
                tx_bytes_total=io.bytes_sent,
                up=bool(stat.isup) if stat else False,
                speed_mbps=int(stat.speed) if stat else 0,
            )
        )
    rates.retain(PREFIX, {PREFIX + name for name in counters})
    return interfaces


def is_loopback(name: str, stat: Any | None) -> bool:
    if stat is not None and "loopback" in getattr(stat, "flags", "").split(","):
        return True
    return name == "lo" or name.lower().startswith("loopback")
