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
from tests.wire_check import VIOLATIONS, checked

LOCAL_URL = "http://127.0.0.1:4892"
# Several real agents take seconds to start and join, so every test that uses them is `slow`.
CLUSTER_FIXTURES = {"trio", "calm_trio", "pair"}
CLUSTER_DIR = Path(__file__).resolve().parent / "e2e"


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & CLUSTER_FIXTURES or item.path.is_relative_to(CLUSTER_DIR):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def answers_match_their_schemas() -> Iterator[None]:
    """Fails a test that received an answer not matching its published schema."""
    VIOLATIONS.clear()
    yield
    found, VIOLATIONS[:] = list(VIOLATIONS), []
    assert not found, "answers that do not match /api/openapi.json:\n" + "\n".join(found)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def api(home: Path) -> Iterator[TestClient]:
    """The whole app in-process (lifespan included), authenticated with the local token."""
    app = checked(create_app(make_settings(home, port=4892)))
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


@pytest.fixture(scope="module")
def calm_trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AgentProcess]]:
    """Three real agents joined into one cluster, shared by a module's tests that leave it as
    they found it (those that kill or evict members take their own `trio`)."""
    base = tmp_path_factory.mktemp("calm-trio")
    with agent_processes([base / f"node{i}" for i in range(3)]) as agents:
        form_cluster(agents)
        yield agents


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    """Two real agents, not joined."""
    with agent_processes([tmp_path / f"node{i}" for i in range(2)]) as agents:
        yield agents
