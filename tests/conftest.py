from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agent.app import create_app
from tests.harness import (
    AgentProcess,
    LiveAgent,
    agent_process,
    agent_processes,
    form_cluster,
    live_agent,
    make_settings,
)

LOCAL_URL = "http://127.0.0.1:4892"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def api(home: Path) -> Iterator[TestClient]:
    """The whole app in-process (lifespan included), authenticated with the local token."""
    app = create_app(make_settings(home, port=4892))
    with TestClient(app, base_url=LOCAL_URL) as client:
        client.headers["Authorization"] = f"Bearer {(home / 'local.token').read_text().strip()}"
        yield client


@pytest.fixture
async def live(home: Path) -> AsyncIterator[LiveAgent]:
    async with live_agent(make_settings(home)) as agent:
        yield agent


@pytest.fixture
def agent_proc(tmp_path: Path) -> Iterator[AgentProcess]:
    with agent_process(tmp_path / "agent-home") as agent:
        yield agent


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
