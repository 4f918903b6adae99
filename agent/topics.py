"""Every event topic the agent publishes, gathered from each subsystem's `events.py`."""

from __future__ import annotations

from typing import Any

from agent.brain.events import TOPICS as BRAIN
from agent.cluster.events import TOPICS as CLUSTER
from agent.core.events import Topic
from agent.core.stream_events import TOPICS as STREAM
from agent.discovery.events import TOPICS as DISCOVERY
from agent.flows.events import TOPICS as FLOWS
from agent.llm.events import TOPICS as LLM
from agent.mcp.events import TOPICS as MCP
from agent.memory.events import TOPICS as MEMORY
from agent.pulse.events import TOPICS as PULSE
from agent.storage.events import TOPICS as STORAGE
from agent.tasks.events import TOPICS as TASKS
from agent.telemetry.events import TOPICS as TELEMETRY

CATALOGUES: tuple[tuple[Topic[Any], ...], ...] = (
    BRAIN,
    CLUSTER,
    DISCOVERY,
    FLOWS,
    LLM,
    MCP,
    MEMORY,
    PULSE,
    STORAGE,
    TASKS,
    TELEMETRY,
    STREAM,
)


def all_topics() -> list[Topic[Any]]:
    topics = [t for catalogue in CATALOGUES for t in catalogue]
    names = [t.name for t in topics]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RuntimeError(f"topics declared twice: {sorted(duplicates)}")
    return sorted(topics, key=lambda t: t.name)
