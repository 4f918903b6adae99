"""Wire shapes of membership, with a bound on every value a peer can send.

Everything here arrives from another node, so each number has a range, each string a length
and each list a size: nothing a member sends can overflow SQLite, blow up memory or make a
later local decision (an eviction) fail. Signed bodies are strict and closed (no coercion,
no unknown fields) so that re-serialising a validated body gives back exactly the bytes
that were signed.

The local API's answers are in `models_api`, re-exported here.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from agent.cluster.models_api import (
    AdmittedNode,
    ClusterNode,
    ClusterStatus,
    EvictResult,
    IssuedJoinToken,
    JoinIssuer,
    JoinResult,
    LeaveResult,
    NodeList,
    NodeResources,
    NodeState,
    PooledRam,
    PooledStorage,
    PooledVram,
)

__all__ = [
    "MAX_ADDRESSES",
    "MAX_CERT_PEM",
    "MAX_MS",
    "MAX_NODES",
    "MAX_RECORDS",
    "MAX_SEQ",
    "MIN_MS",
    "Address",
    "Admit",
    "AdmittedNode",
    "ClusterId",
    "ClusterNode",
    "ClusterStatus",
    "Evict",
    "EvictResult",
    "Fingerprint",
    "Found",
    "IssuedJoinToken",
    "JoinBody",
    "JoinIssuer",
    "JoinResult",
    "Leave",
    "LeaveResult",
    "Millis",
    "NodeBody",
    "NodeId",
    "NodeList",
    "NodeResources",
    "NodeState",
    "PooledRam",
    "PooledStorage",
    "PooledVram",
    "PublicKey",
    "RecordBody",
    "RecordId",
    "Salt",
    "Signature",
    "SignedNode",
    "SignedRecord",
    "Table",
    "TokenId",
]

MAX_NODES = 256
MAX_RECORDS = 4096
MAX_ADDRESSES = 16
MAX_CERT_PEM = 8192
MAX_SEQ = 2**53
# Milliseconds since the epoch, from 2001 to 3000: finite, and far from any integer limit.
MIN_MS, MAX_MS = 1_000_000_000_000, 32_503_680_000_000

NodeId = Annotated[str, StringConstraints(pattern=r"^[a-z2-7]{24}$")]
PublicKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]
Signature = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")]
ClusterId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
RecordId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Fingerprint = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
TokenId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
Salt = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Millis = Annotated[int, Field(ge=MIN_MS, le=MAX_MS)]


def _ip(text: str) -> str:
    ipaddress.ip_address(text)
    return text


Address = Annotated[str, StringConstraints(max_length=45), AfterValidator(_ip)]


class _Closed(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class NodeBody(_Closed):
    """A node's own entry: only that node can sign it; the highest `seq` wins."""

    kind: Literal["node"]
    node_id: NodeId
    public_key: PublicKey
    name: Annotated[str, StringConstraints(max_length=255)]
    fingerprint: Fingerprint
    cert_pem: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CERT_PEM)]
    addresses: Annotated[list[Address], Field(min_length=1, max_length=MAX_ADDRESSES)]
    peer_port: Annotated[int, Field(ge=1, le=65535)]
    version: Annotated[str, StringConstraints(max_length=64)]
    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    at: Millis


class _Record(_Closed):
    """Common to every record: who signed it (`by`, `by_key`) about whom (`node_id`,
    `public_key`), in which cluster, and when (the signer's clock)."""

    cluster_id: ClusterId
    by: NodeId
    by_key: PublicKey
    node_id: NodeId
    public_key: PublicKey
    at: Millis


class Found(_Record):
    """The founder's record; `cluster_id` is derived from its key and `salt`."""

    kind: Literal["found"]
    salt: Salt


class Admit(_Record):
    """`by` (a member) admitted `node_id` with the join token `token_id`."""

    kind: Literal["admit"]
    token_id: TokenId


class Evict(_Record):
    """`by` evicted `node_id`, for good. `kept`: the nodes `node_id` admitted that stay."""

    kind: Literal["evict"]
    kept: Annotated[list[NodeId], Field(max_length=MAX_NODES)]


class Leave(_Record):
    """`node_id` left on its own; `ends` names the admissions (record ids) it closes."""

    kind: Literal["leave"]
    ends: Annotated[list[RecordId], Field(min_length=1, max_length=64)]


RecordBody = Annotated[Found | Admit | Evict | Leave, Field(discriminator="kind")]


class SignedNode(_Closed):
    body: NodeBody
    signature: Signature


class SignedRecord(_Closed):
    body: RecordBody
    signature: Signature


class Table(_Closed):
    """What `/peer/membership` carries both ways, and the issuer's answer to a join."""

    cluster_id: ClusterId
    records: Annotated[list[SignedRecord], Field(max_length=MAX_RECORDS)]
    nodes: Annotated[list[SignedNode], Field(max_length=MAX_NODES)]


class JoinBody(_Closed):
    token_id: TokenId
    secret: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    cluster_id: ClusterId
    node: SignedNode
