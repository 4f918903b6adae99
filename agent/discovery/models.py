"""Wire shapes of discovery: an agent seen on the LAN, and the listing of those seen."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from agent.core.wire import Answer


class DiscoveredAgent(Answer):
    """An agent seen on the LAN over mDNS, as its advert describes it."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    name: str
    cluster_id: str | None = Field(description="The cluster it is in; None while it is alone")
    addresses: list[str] = Field(description="Where it was seen, IPv4 first")
    peer_port: int
    fingerprint: str = Field(description="SHA-256 of its TLS certificate, hex")
    version: str
    first_seen: float = Field(description="Unix time it was first seen (since it was lost)")
    last_seen: float = Field(description="Unix time its advert was last confirmed")


class DiscoveryListing(Answer):
    """Agents seen on the LAN that are not members of this cluster."""

    agents: list[DiscoveredAgent]
    count: int
    mdns: bool = Field(description="False: discovery is off, so `agents` is always empty")
