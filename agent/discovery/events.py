"""Bus topics the discovery subsystem publishes; `data` is a `DiscoveredAgent` as a dict.

`discovery.found`: an agent appeared on the LAN (or reappeared after it was lost).
`discovery.updated`: an agent already seen changed what it advertises (addresses, peer port,
cluster id, name, version, fingerprint).
`discovery.lost`: an agent withdrew its advert, its records expired, or it was not seen for
`STALE_AFTER` seconds. This is not a liveness signal: members are judged by heartbeats.
"""

from __future__ import annotations

from typing import Final

DISCOVERY_FOUND: Final = "discovery.found"
DISCOVERY_UPDATED: Final = "discovery.updated"
DISCOVERY_LOST: Final = "discovery.lost"

TOPICS: Final = (DISCOVERY_FOUND, DISCOVERY_UPDATED, DISCOVERY_LOST)
