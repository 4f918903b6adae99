"""What the local API answers about the cluster: members, the summary, joins, leaves and
evictions. (What members send each other is in `models`.)"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from agent.core.capabilities import Capabilities
from agent.core.wire import Answer
from agent.telemetry.models import TelemetrySample

NodeState = Literal["online", "suspect", "offline"]
Standing = Literal["member", "left", "evicted"]

# A member on another version may send a sample this node cannot read: it is passed on as
# it came (any JSON object) rather than dropped.
RemoteTelemetry = Annotated[
    TelemetrySample | dict[str, Any] | None, Field(union_mode="left_to_right")
]


class NodeResources(Answer):
    """The pooled figures of one member's latest sample (zeros when it has none)."""

    cpu_cores: int
    cpu_percent: float | None = Field(description="None when the member sent no sample")
    ram_total: int
    ram_available: int
    storage_total: int
    storage_free: int
    gpu_count: int
    vram_total: int
    vram_used: int


class ClusterNode(Answer):
    """One active member as this node sees it: live for this node, as of its last heartbeat
    for the others."""

    node_id: str
    name: str
    is_self: bool
    state: NodeState
    last_seen: float | None = Field(description="None: a member never heard from")
    address: str = Field(description="Its first address ('' when it has none)")
    addresses: list[str]
    peer_port: int
    fingerprint: str = Field(description="SHA-256 of its TLS certificate, hex")
    version: str
    joined_at: float
    capabilities: Capabilities = Field(
        description="What it offers the cluster; what it did not say is left out"
    )
    resources: NodeResources
    telemetry: RemoteTelemetry = Field(
        description="Its latest sample; another version's sample is passed on as it came"
    )

    # No return annotation on purpose: pydantic then publishes this model's own schema (which
    # the answer matches: the capabilities left out are optional there), not an empty one.
    @model_serializer(mode="wrap")
    def _said(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]
        # A capability left None means "did not say", which is told by leaving it out: a
        # client waiting for a member to report (say) `storage_free` tests for the key.
        data = handler(self)
        if isinstance(data, dict) and "capabilities" in data:
            data["capabilities"] = self.capabilities.model_dump(mode=info.mode, exclude_none=True)
        return data


class NodeList(Answer):
    nodes: list[ClusterNode]
    count: int


class PooledRam(Answer):
    total: int
    available: int


class PooledStorage(Answer):
    total: int
    free: int


class PooledVram(Answer):
    total: int
    used: int
    free: int


class ClusterStatus(Answer):
    """This node and the cluster's pooled resources (online members only)."""

    node_id: str
    node_name: str
    version: str
    cluster_id: str | None = Field(description="None while this node is alone")
    in_cluster: bool
    membership_version: int
    uptime_s: float
    node_count: int
    online_count: int
    cpu_cores: int
    ram: PooledRam
    storage: PooledStorage
    gpu_count: int
    vram: PooledVram


class JoinIssuer(Answer):
    """The node that issued a join token: where the joiner reaches it, and the certificate
    it pins."""

    node_id: str
    name: str
    addresses: list[str]
    peer_port: int
    fingerprint: str


class IssuedJoinToken(Answer):
    """A single-use join token; `command` and `join_url` are ready to hand to the new device."""

    token: str
    join_url: str
    command: str
    expires_at: float
    expires_in: float = Field(description="Seconds left")
    cluster_id: str
    issuer: JoinIssuer


class JoinResult(Answer):
    cluster_id: str
    joined_via: str = Field(description="The node that issued the token")
    members: list[str] = Field(description="Node ids of every member, this node included")


class LeaveResult(Answer):
    left: str = Field(description="The cluster left")
    node_id: str


class AdmittedNode(Answer):
    node_id: str
    name: str
    status: Standing | Literal["unknown"]


class EvictResult(Answer):
    node_id: str
    evicted: bool
    admitted: list[AdmittedNode] = Field(description="The members it admitted, to review")
    also_evicted: list[str] = Field(description="Those evicted with it (`evict_admitted`)")
