"""Settings of one area: joining, liveness and telemetry."""

from __future__ import annotations

from dataclasses import dataclass

from agent.settings.field import setting


@dataclass(frozen=True)
class ClusterSettings:
    join_token_ttl: float = setting(
        600.0, "Seconds a join token stays valid.", minimum=1, maximum=86400
    )
    mdns: bool = setting(True, "Advertise and discover agents on the LAN with mDNS (on/off).")
    heartbeat_interval: float = setting(
        1.0, "Seconds between heartbeats to each member.", minimum=0.1, maximum=30
    )
    suspect_after: float = setting(
        3.0, "Seconds of silence before a member is suspect.", minimum=0.5, maximum=600
    )
    offline_after: float = setting(
        6.0, "Seconds of silence before a member is offline.", minimum=1.0, maximum=3600
    )
    telemetry_interval: float = setting(
        1.0, "Seconds between telemetry samples.", minimum=0.1, maximum=60
    )
    telemetry_window: int = setting(
        1200, "Seconds of telemetry history kept in memory.", minimum=10, maximum=86400
    )
