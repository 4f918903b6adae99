"""Settings of one area: where the agent keeps its data, how it listens, who may call its
local API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.settings.field import setting


@dataclass(frozen=True)
class NodeSettings:
    home: Path = setting(Path("~/.openfabric"), "Data directory (database, identity, storage).")
    host: str = setting("127.0.0.1", "Address the local API binds to.")
    port: int = setting(
        4892, "Port of the local API; 0 picks a free one.", minimum=0, maximum=65535
    )
    peer_host: str = setting("0.0.0.0", "Address the peer listener binds to.")
    peer_port: int = setting(
        4893, "Port of the peer listener; 0 picks a free one.", minimum=0, maximum=65535
    )
    peer_max_connections: int = setting(
        1024,
        "Connections the peer listener holds at once; more are closed at once (at most half "
        "the open-file limit).",
        minimum=1,
        maximum=1_000_000,
    )
    peer_max_connections_per_address: int = setting(
        128,
        "Connections the peer listener holds at once from one address (IPv6: one /64).",
        minimum=1,
        maximum=1_000_000,
    )
    peer_handshake_timeout: float = setting(
        10.0,
        "Seconds a peer connection has to finish its TLS handshake, and then to send the "
        "headers of its first request.",
        minimum=0.05,
        maximum=300,
    )
    advertise_address: str = setting(
        "", "Address other members use to reach this node (empty: detected)."
    )
    node_name: str = setting("", "Display name of this node (empty: the hostname).")
    auth: str = setting(
        "token",
        "Local API authentication: token, or none to turn it off.",
        choices=("token", "none"),
    )
    log_level: str = setting(
        "info", "Log level.", choices=("debug", "info", "warning", "error", "critical")
    )
    log_retention_days: float = setting(
        30.0,
        "Days a rotated log file (logs/agent.log.N) is kept (0: until rotation drops it).",
        minimum=0,
        maximum=36_500,
    )
    event_ring_size: int = setting(
        2048, "Events kept for Last-Event-ID replay.", minimum=1000, maximum=1_000_000
    )
    sse_queue_size: int = setting(
        1000, "Events buffered per SSE client before the oldest are dropped.", minimum=10
    )
    sse_keepalive: float = setting(
        15.0, "Seconds between SSE keep-alive comments.", minimum=0.05, maximum=300
    )
    max_body_bytes: int = setting(
        1_048_576, "Largest JSON request body accepted, in bytes.", minimum=1024
    )
    session_idle_timeout: float = setting(
        43_200.0,
        "Seconds a dashboard session may go unused before it ends.",
        minimum=60,
        maximum=86400 * 30,
    )
    login_code_ttl: float = setting(
        60.0,
        "Seconds a dashboard login code (from `openfabric dashboard`) stays valid.",
        minimum=5,
        maximum=600,
    )
