"""What the SDK hands back: the agent's JSON bodies as TypedDicts, Server-Sent Events, and
the errors it raises.

Re-exported by `agent.client`, which is where callers import them from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import httpx


class ClientError(Exception):
    """Base of every error the SDK raises."""


class AgentUnavailable(ClientError):
    """No agent answered at the URL (connection refused, timed out, or dropped)."""

    def __init__(self, url: str, reason: str | None = None) -> None:
        self.url = url
        self.reason = reason
        hint = "start one with 'openfabric serve'"
        super().__init__(reason or f"no agent is answering at {url} ({hint})")


class ApiError(ClientError):
    """The agent refused a request; carries its `error_code` and `details`.

    Built from the agent's error body `{"success": false, "error", "error_code", "details"}`;
    a body of any other shape gives the code `HTTP_<status>` and a message naming the status.
    """

    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        status, body, reason = response.status_code, response.content, response.reason_phrase
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            code = str(data.get("error_code") or f"HTTP_{status}")
            details = data.get("details")
            return cls(status, code, data["error"], details if isinstance(details, dict) else {})
        text = body.decode("utf-8", "replace").strip()
        message = f"the agent answered HTTP {status}{f' {reason}' if reason else ''}"
        if text:
            message += f": {text[:200]}"
        return cls(status, f"HTTP_{status}", message)


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


class AdmittedNode(TypedDict):
    node_id: str
    name: str
    status: str


class EvictResult(TypedDict):
    node_id: str
    evicted: bool
    # The members the evicted node admitted (to review), and those evicted with it.
    admitted: list[AdmittedNode]
    also_evicted: list[str]


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


TaskState = Literal[
    "queued", "scheduled", "running", "succeeded", "failed", "cancelled", "timed_out", "lost"
]
LogStream = Literal["stdout", "stderr", "end"]


class Task(TypedDict):
    """A task as the agent shows it; `env` holds the variable names only."""

    task_id: str
    command: str
    state: TaskState
    node_id: str | None  # None until the scheduler places it
    pid: int | None
    preferred_node: str | None
    wait_for_node: bool
    exit_code: int | None  # None while running, or when it ended by a signal or never ran
    signal: int | None
    error: str | None
    timeout_s: float | None
    retries: int
    attempts: int
    labels: dict[str, str]
    cwd: str | None
    env: list[str]
    submitted_at: float
    scheduled_at: float | None
    started_at: float | None
    ended_at: float | None
    duration_s: float | None
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool


class TaskDetail(Task):
    """A task with its output: the last 64 KiB of each stream, or all of it when asked."""

    stdout: str
    stderr: str
    stdout_complete: bool
    stderr_complete: bool


class TaskPage(TypedDict):
    tasks: list[Task]  # newest first
    count: int
    total: int
    limit: int
    offset: int


class Breaker(TypedDict):
    node_id: str
    state: Literal["closed", "open", "half_open"]
    consecutive_failures: int
    opened_count: int
    open_for_s: float
    next_retry_at: float | None  # unix time; None unless open
    retry_in_s: float | None
    last_failure_at: float | None
    probe_in_flight: bool


class SchedulerNode(TypedDict):
    node_id: str
    name: str
    state: str
    running: int
    limit: int
    breaker: Breaker


class DispatchLatency(TypedDict):
    p50: float | None  # milliseconds; None before the first dispatch
    p99: float | None
    samples: int


class SchedulerStats(TypedDict):
    queue_depth: int
    in_flight: int
    running: int
    nodes: list[SchedulerNode]
    dispatch_latency_ms: DispatchLatency
    totals: dict[str, int]  # outcome -> tasks


StorageHealth = Literal["healthy", "degraded", "unavailable"]


class StoredFile(TypedDict):
    """A file in the shared storage; `nodes` hold its chunks, `health` says whether each chunk
    has all its replicas online (healthy), at least one (degraded) or none (unavailable)."""

    path: str  # canonical: relative, '/'-separated, NFC
    size: int
    sha256: str
    modified: float
    writer: str  # the node that stored this version
    chunks: int
    nodes: list[str]
    health: StorageHealth


class StorageListing(TypedDict):
    files: list[StoredFile]
    count: int


class DeleteResult(TypedDict):
    path: str
    deleted: bool


@dataclass(frozen=True)
class LogEvent:
    """One event of a task's output stream.

    `stdout`/`stderr`: `text` written by the command, `seq` its chunk sequence number (resume
    after it with `task_logs(after=seq)`). `end`: the last event, `task` the final task.
    """

    stream: LogStream
    seq: int | None
    text: str = ""
    task: Task | None = None


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
