"""Topics the telemetry subsystem publishes."""

from __future__ import annotations

from typing import Any

from agent.core.events import Topic
from agent.telemetry.models import TelemetrySample

NODE_TELEMETRY: Topic[TelemetrySample] = Topic(
    "node.telemetry",
    TelemetrySample,
    "This node's telemetry, one sample per `telemetry_interval`. It carries `node_id`, so "
    "consumers of other members' samples (heartbeats, `/api/nodes`) read the same shape. "
    "The history is `/api/nodes/{id}/telemetry`.",
    replay=False,
)

TOPICS: tuple[Topic[Any], ...] = (NODE_TELEMETRY,)
