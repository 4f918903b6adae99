"""What a subsystem may know about the cluster, and about this node's telemetry.

The cluster subsystem owns membership; every other subsystem sees it only through
`ClusterView`, a read-only view of the active members (this node included) that
`ctx.cluster` provides. Telemetry is seen through `TelemetryReadings` (`ctx.telemetry`).
Both are protocols so that no subsystem imports another's internals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agent.core.capabilities import Capabilities
from agent.peer.client import PeerTarget

ONLINE = "online"
SUSPECT = "suspect"
OFFLINE = "offline"

OnClusterChange = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MemberView:
    """One active member as this node sees it now. For this node, telemetry and
    capabilities are live; for the others they are what their last heartbeat carried."""

    node_id: str
    name: str
    is_self: bool
    state: str
    addresses: tuple[str, ...]
    peer_port: int
    fingerprint: str
    version: str
    joined_at: float
    last_seen: float | None
    telemetry: Mapping[str, Any] | None
    capabilities: Capabilities
    # Where to reach it over the peer channel: observed addresses first, then its own.
    target: PeerTarget

    @property
    def online(self) -> bool:
        return self.state == ONLINE


class ClusterView(Protocol):
    """The cluster as this node sees it. Reads are cheap and never block."""

    @property
    def node_id(self) -> str: ...

    @property
    def cluster_id(self) -> str | None:
        """None while this node is alone."""
        ...

    def members(self) -> list[MemberView]:
        """Every active member, this node first."""
        ...

    def member(self, node_id: str) -> MemberView | None:
        """The active member with this id, or None (unknown, left or evicted)."""
        ...

    def state_of(self, node_id: str) -> str: ...

    def ever_known(self, node_id: str) -> bool:
        """Whether this node has ever been a member (of any standing, evicted included)."""
        ...

    def status_of(self, node_id: str) -> str | None:
        """ "member", "left" or "evicted" for a node ever known, else None."""
        ...

    def on_change(self, callback: OnClusterChange) -> None:
        """Call `callback` after this node joins, leaves or is evicted from a cluster."""
        ...

    def hint_addresses(self, node_id: str, addresses: tuple[str, ...]) -> None:
        """Addresses a member was seen at (e.g. on mDNS): tried first, never trusted over
        the member's own signed entry."""
        ...


class TelemetryReadings(Protocol):
    def latest(self) -> Mapping[str, Any] | None:
        """This node's latest sample, None before the first."""
        ...

    def summarize(self, sample: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """The compact heartbeat form of any node's sample."""
        ...
