"""Cluster membership calls (nodes, joining, leaving, eviction, LAN discovery), mixed into
`AgentClient`."""

from __future__ import annotations

from urllib.parse import quote

from agent.client.transport import Transport
from agent.cluster.models import (
    ClusterNode,
    EvictResult,
    IssuedJoinToken,
    JoinResult,
    LeaveResult,
    NodeList,
)
from agent.discovery.models import DiscoveryListing
from agent.telemetry.models import TelemetryHistory


def _node_path(node_id: str) -> str:
    return f"/api/nodes/{quote(node_id, safe='')}"


class ClusterMixin(Transport):
    async def nodes(self) -> list[ClusterNode]:
        return (await self._get_model("/api/nodes", NodeList)).nodes

    async def node(self, node_id: str) -> ClusterNode:
        return await self._get_model(_node_path(node_id), ClusterNode)

    async def node_telemetry(self, node_id: str, seconds: float | None = None) -> TelemetryHistory:
        """A node's recent samples, oldest first; another member's are asked of it (at most
        1500, evenly spread). 404 NODE_NOT_FOUND, 503 NODE_UNREACHABLE."""
        params = {"seconds": f"{seconds:g}"} if seconds is not None else None
        response = await self._request("GET", _node_path(node_id) + "/telemetry", params=params)
        return self._model(response, TelemetryHistory)

    async def evict_node(self, node_id: str, *, evict_admitted: bool = False) -> EvictResult:
        """Evict a member everywhere, for good (404 NODE_NOT_FOUND, 409 CANNOT_EVICT_SELF).

        The answer lists the members it admitted (`admitted`) for review; `evict_admitted`
        evicts them too (`also_evicted`)."""
        params = {"evict_admitted": "true"} if evict_admitted else None
        response = await self._request("DELETE", _node_path(node_id), params=params)
        return self._model(response, EvictResult)

    async def join_token(self) -> IssuedJoinToken:
        """A new single-use token for another device to join this node's cluster."""
        return await self._get_model("/api/cluster/join-token", IssuedJoinToken)

    async def join(self, token: str) -> JoinResult:
        """Join the cluster of the node that issued `token`.

        Refusals arrive as `ApiError` codes: INVALID_TOKEN, ALREADY_IN_CLUSTER, OWN_TOKEN,
        TOKEN_EXPIRED, TOKEN_USED, FINGERPRINT_MISMATCH, ISSUER_UNREACHABLE.
        """
        response = await self._request(
            "POST", "/api/cluster/join-remote", json_body={"token": token}
        )
        return self._model(response, JoinResult)

    async def leave(self) -> LeaveResult:
        """Leave the cluster; this node becomes a lone node (409 NOT_IN_CLUSTER)."""
        return self._model(await self._request("POST", "/api/cluster/leave"), LeaveResult)

    async def discovered(self) -> DiscoveryListing:
        """Agents seen on the LAN over mDNS that are not members of this cluster."""
        return await self._get_model("/api/cluster/discovered", DiscoveryListing)
