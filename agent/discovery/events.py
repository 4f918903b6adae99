"""Topics the discovery subsystem publishes; each carries the agent as `/api/cluster/discovered`
lists it. None of them is a liveness signal: members are judged by heartbeats."""

from __future__ import annotations

from typing import Any

from agent.core.events import Topic
from agent.discovery.models import DiscoveredAgent

DISCOVERY_FOUND: Topic[DiscoveredAgent] = Topic(
    "discovery.found",
    DiscoveredAgent,
    "An agent appeared on the LAN (or reappeared after it was lost).",
)
DISCOVERY_UPDATED: Topic[DiscoveredAgent] = Topic(
    "discovery.updated",
    DiscoveredAgent,
    "An agent already seen changed what it advertises (addresses, peer port, cluster id, "
    "name, version, fingerprint).",
)
DISCOVERY_LOST: Topic[DiscoveredAgent] = Topic(
    "discovery.lost",
    DiscoveredAgent,
    "An agent withdrew its advert, its records expired, or it was not seen for "
    "`STALE_AFTER` (300) seconds.",
)

TOPICS: tuple[Topic[Any], ...] = (DISCOVERY_FOUND, DISCOVERY_UPDATED, DISCOVERY_LOST)
