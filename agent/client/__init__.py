"""The OpenFabric Python SDK: a typed async client for an agent's local API.

    from agent.client import AgentClient, discover

    async with AgentClient(*discover()) as client:
        status = await client.status()
        async for event in client.events(["node.telemetry"]):
            print(event.topic, event.data)

Responses are returned as the types of `agent.client.types`: the agent's own wire models where
its area publishes them (`model_dump(mode="json")` gives back the JSON it sent), else plain
dicts typed as TypedDicts, which dump back to JSON unchanged. Every failure is a
`ClientError`: `AgentUnavailable` when nothing answers, `ApiError` when the agent refuses (with
its `error_code`), `StreamEndedEarly` when a stream stops before its last event. Importing the
SDK starts nothing and loads none of the agent's server code.
"""

from __future__ import annotations

from agent.client.auth import AuthMixin
from agent.client.brain import BrainMixin
from agent.client.cluster import ClusterMixin
from agent.client.discovery import DEFAULT_URL, discover
from agent.client.errors import AgentUnavailable, ApiError, ClientError, StreamEndedEarly
from agent.client.events import ChatEvent, LogEvent, PullEvent, StreamEvent
from agent.client.flows import FlowsMixin
from agent.client.llm import LlmMixin
from agent.client.mcp import McpMixin
from agent.client.memory import MemoryMixin
from agent.client.ops import OpsMixin
from agent.client.pulse import PulseMixin
from agent.client.sse import SSEParser, parse_sse
from agent.client.storage import Download, StorageDownload, StorageMixin
from agent.client.tasks import TasksMixin
from agent.client.transport import DEFAULT_TIMEOUT
from agent.client.types import (
    AdmittedNode,
    BrainForgotten,
    BrainHit,
    BrainSearchAnswer,
    BrainSource,
    BrainStatus,
    Breaker,
    ChatAnswer,
    ChatMessage,
    ChatSession,
    ChatSessionDetail,
    ChatStats,
    ClusterModel,
    DeleteResult,
    Discovered,
    DiscoveredAgent,
    DispatchLatency,
    EvictResult,
    Health,
    HealthCheck,
    HealthProbe,
    Issuer,
    JoinResult,
    JoinToken,
    LeaveResult,
    LlmModel,
    LlmStatus,
    LoadedModel,
    LoggedOut,
    LoginCode,
    LogStream,
    MetricFamily,
    MetricSample,
    MetricsReport,
    ModelCatalog,
    ModelDeleted,
    ModelHolder,
    ModelPlan,
    Node,
    NodeList,
    NodeResources,
    NotSearched,
    ReindexProgress,
    SchedulerNode,
    SchedulerStats,
    SessionDeleted,
    SessionList,
    SessionMessage,
    SkippedFile,
    Status,
    StorageHealth,
    StorageListing,
    StoredFile,
    Task,
    TaskDetail,
    TaskPage,
    TaskState,
    TelemetryHistory,
    TelemetrySample,
)

# fmt: off
__all__ = [
    "DEFAULT_TIMEOUT", "DEFAULT_URL", "AdmittedNode", "AgentClient", "AgentUnavailable",
    "ApiError", "BrainForgotten", "BrainHit", "BrainSearchAnswer", "BrainSource",
    "BrainStatus", "Breaker", "ChatAnswer", "ChatEvent", "ChatMessage", "ChatSession",
    "ChatSessionDetail", "ChatStats", "ClientError", "ClusterModel", "DeleteResult",
    "Discovered", "DiscoveredAgent", "DispatchLatency", "Download", "EvictResult", "Health",
    "HealthCheck", "HealthProbe", "Issuer", "JoinResult", "JoinToken", "LeaveResult",
    "LlmModel", "LlmStatus", "LoadedModel", "LogEvent", "LogStream", "LoggedOut", "LoginCode",
    "MetricFamily", "MetricSample", "MetricsReport", "ModelCatalog", "ModelDeleted",
    "ModelHolder", "ModelPlan", "Node", "NodeList", "NodeResources", "NotSearched",
    "PullEvent", "ReindexProgress", "SSEParser", "SchedulerNode", "SchedulerStats",
    "SessionDeleted", "SessionList", "SessionMessage", "SkippedFile", "Status",
    "StorageDownload", "StorageHealth", "StorageListing", "StoredFile", "StreamEndedEarly",
    "StreamEvent", "Task", "TaskDetail", "TaskPage", "TaskState", "TelemetryHistory",
    "TelemetrySample", "discover", "parse_sse",
]
# fmt: on


class AgentClient(
    OpsMixin,
    ClusterMixin,
    TasksMixin,
    StorageMixin,
    LlmMixin,
    BrainMixin,
    MemoryMixin,
    McpMixin,
    FlowsMixin,
    PulseMixin,
    AuthMixin,
):
    """Async client of one agent's local API (`/api/...`).

    Use as `async with AgentClient(url, token) as client:` (`discover()` finds both for the
    local agent). Methods return the agent's JSON bodies; failures raise `AgentUnavailable` or
    `ApiError`. `transport` is for tests.
    """
