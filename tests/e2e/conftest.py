from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import AgentProcess, agent_processes, form_cluster


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    """Three real agents joined into one cluster."""
    with agent_processes([tmp_path / f"node{i}" for i in range(3)]) as agents:
        form_cluster(agents)
        yield agents


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    """Two real agents, not joined."""
    with agent_processes([tmp_path / f"node{i}" for i in range(2)]) as agents:
        yield agents
