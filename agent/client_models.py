"""What the SDK returns: the agent's JSON bodies as TypedDicts, and Server-Sent Events.

Re-exported by `agent.client`, which is where callers import them from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict


class NodeResources(TypedDict):
    cpu_cores: int
    cpu_percent: float | None
    ram_total: int
    ram_available: int
    storage_total: int
    storage_free: int
    gpu_count: int
    vram_total: int
    vram_used: int


class Node(TypedDict):
    node_id: str
    name: str
    is_self: bool
    state: Literal["online", "suspect", "offline"]
    last_seen: float | None  # None: a member this node has never heard from
    address: str
    addresses: list[str]
    peer_port: int
    fingerprint: str
    version: str
    joined_at: float
    resources: NodeResources
    telemetry: dict[str, Any] | None


class Status(TypedDict):
    node_id: str
    node_name: str
    version: str
    cluster_id: str | None  # None while the node is alone
    in_cluster: bool
    membership_version: int
    uptime_s: float
    node_count: int
    online_count: int
    cpu_cores: int
    ram: dict[str, int]
    storage: dict[str, int]
    gpu_count: int
    vram: dict[str, int]


class Issuer(TypedDict):
    node_id: str
    name: str
    addresses: list[str]
    peer_port: int
    fingerprint: str


class JoinToken(TypedDict):
    """A single-use join token; `command` and `join_url` are ready to hand to the new device."""

    token: str
    join_url: str
    command: str
    expires_at: float
    expires_in: float
    cluster_id: str
    issuer: Issuer


class JoinResult(TypedDict):
    cluster_id: str
    joined_via: str
    members: list[str]


class LeaveResult(TypedDict):
    left: str
    node_id: str


class EvictResult(TypedDict):
    node_id: str
    evicted: bool


class DiscoveredAgent(TypedDict):
    node_id: str
    name: str
    cluster_id: str | None
    addresses: list[str]
    peer_port: int
    fingerprint: str
    version: str
    first_seen: float
    last_seen: float


class Discovered(TypedDict):
    agents: list[DiscoveredAgent]
    count: int
    mdns: bool  # False: discovery is off on the agent, so `agents` is always empty


class HealthCheck(TypedDict):
    name: str
    status: Literal["pass", "warn", "fail"]
    detail: str
    duration_ms: float


class Health(TypedDict):
    status: Literal["healthy", "degraded", "unhealthy"]
    node_id: str
    version: str
    uptime_s: float
    checks: list[HealthCheck]


class MetricSample(TypedDict):
    name: str
    labels: dict[str, str]
    value: float | str


class MetricFamily(TypedDict):
    name: str
    type: str
    help: str
    samples: list[MetricSample]


@dataclass(frozen=True)
class StreamEvent:
    """One Server-Sent Event: `topic` is its `event:` field, `id` its sequence number."""

    id: int | None
    topic: str
    data: Any


@dataclass
class SSEParser:
    """Incremental Server-Sent Events parser, fed one line at a time (without line ending).

    Follows the WHATWG rules the agent relies on: `data:` lines join with newlines, lines
    starting with ':' are comments (keep-alives), a blank line dispatches. `data` is decoded
    as JSON when it is JSON, else kept as text.
    """

    _topic: str = ""
    _id: int | None = None
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> StreamEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._topic = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            try:
                self._id = int(value)
            except ValueError:
                self._id = None
        return None

    def _dispatch(self) -> StreamEvent | None:
        topic, event_id, data = self._topic, self._id, self._data
        self._topic, self._id, self._data = "", None, []
        if not data:
            return None
        text = "\n".join(data)
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = text
        return StreamEvent(id=event_id, topic=topic or "message", data=payload)


def parse_sse(lines: Iterable[str]) -> Iterator[StreamEvent]:
    """Parse a complete SSE text given as lines; an unterminated last event is dropped."""
    parser = SSEParser()
    for line in lines:
        event = parser.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
