"""The table of agents seen on the LAN, without any networking, so it is easy to reason about."""

from __future__ import annotations

from dataclasses import dataclass

from agent.discovery.model import Advert
from agent.discovery.models import DiscoveredAgent

# What a sighting compares: everything advertised, not when it was seen.
_TIMES = {"first_seen", "last_seen"}


@dataclass(frozen=True)
class Sighting:
    agent: DiscoveredAgent
    found: bool  # first time this node is seen (or seen again after it was lost)
    changed: bool  # anything advertised (addresses included) differs from the previous sighting
    moved: bool  # addresses or peer port differ from the previous sighting (True when found)


class Registry:
    def __init__(self) -> None:
        self._agents: dict[str, DiscoveredAgent] = {}

    def __len__(self) -> int:
        return len(self._agents)

    def all(self) -> list[DiscoveredAgent]:
        return sorted(self._agents.values(), key=lambda a: (a.name, a.node_id))

    def get(self, node_id: str) -> DiscoveredAgent | None:
        return self._agents.get(node_id)

    def observe(self, advert: Advert, addresses: list[str], now: float) -> Sighting:
        before = self._agents.get(advert.node_id)
        agent = DiscoveredAgent(
            node_id=advert.node_id,
            name=advert.name,
            cluster_id=advert.cluster_id,
            addresses=list(addresses),
            peer_port=advert.peer_port,
            fingerprint=advert.fingerprint,
            version=advert.version,
            first_seen=before.first_seen if before else now,
            last_seen=now,
        )
        self._agents[agent.node_id] = agent
        if before is None:
            return Sighting(agent, found=True, changed=True, moved=True)
        moved = (before.addresses, before.peer_port) != (agent.addresses, agent.peer_port)
        changed = before.model_dump(exclude=_TIMES) != agent.model_dump(exclude=_TIMES)
        return Sighting(agent, found=False, changed=changed, moved=moved)

    def remove(self, node_id: str) -> DiscoveredAgent | None:
        return self._agents.pop(node_id, None)

    def expire(self, older_than: float) -> list[DiscoveredAgent]:
        """Drop and return the agents whose last sighting is before `older_than`."""
        stale = [a for a in self._agents.values() if a.last_seen < older_than]
        for agent in stale:
            del self._agents[agent.node_id]
        return stale
