"""The SDK's public surface: what `agent.client` exports, where each name lives, and that
importing it loads none of the agent's server code."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import agent.client as sdk
from agent.client import errors, events, sse, types

# Every name `agent.client` exported before it became a package; callers import these.
# fmt: off
EXPORTED = [
    "DEFAULT_TIMEOUT", "DEFAULT_URL", "AdmittedNode", "AgentClient", "AgentUnavailable",
    "ApiError", "Breaker", "ChatAnswer", "ChatEvent", "ChatMessage", "ChatSession",
    "ChatSessionDetail", "ChatStats", "ClientError", "ClusterModel", "DeleteResult", "Discovered",
    "DiscoveredAgent", "DispatchLatency", "Download", "EvictResult", "Health", "HealthCheck",
    "Issuer", "JoinResult", "JoinToken", "LeaveResult", "LlmModel", "LlmStatus", "LoadedModel",
    "LogEvent", "LoggedOut", "LoginCode", "MetricFamily", "MetricSample", "ModelCatalog",
    "ModelDeleted", "ModelHolder", "ModelPlan", "Node", "NodeResources", "PullEvent", "SSEParser",
    "SchedulerNode", "SchedulerStats", "SessionDeleted", "SessionList", "SessionMessage", "Status",
    "StorageDownload", "StorageListing", "StoredFile", "StreamEvent", "Task", "TaskDetail",
    "TaskPage", "TaskState", "discover", "parse_sse",
]
# fmt: on
REPO = Path(__file__).resolve().parents[2]
SERVER_MODULES = ("agent.app", "agent.server", "uvicorn", "starlette", "sse_starlette", "aiosqlite")


def test_every_name_exported_before_is_still_exported() -> None:
    assert sorted(set(EXPORTED) - set(sdk.__all__)) == []
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None, name
    assert len(set(sdk.__all__)) == len(sdk.__all__)


def test_each_public_name_comes_from_its_one_home() -> None:
    homes = {
        types: ["Node", "Status", "Task", "TaskState", "StoredFile", "LoginCode", "LlmStatus",
                "ChatSession", "ModelPlan", "SchedulerStats", "Health", "JoinToken"],
        events: ["StreamEvent", "LogEvent", "PullEvent", "ChatEvent"],
        errors: ["ClientError", "AgentUnavailable", "ApiError", "StreamEndedEarly"],
        sse: ["SSEParser", "parse_sse"],
    }  # fmt: skip
    for module, names in homes.items():
        for name in names:
            assert getattr(sdk, name) is getattr(module, name), name
    assert issubclass(sdk.StreamEndedEarly, sdk.ClientError)


@pytest.mark.parametrize(
    "old",
    ["client_base", "client_auth", "client_discovery", "client_llm", "client_llm_models",
     "client_models", "client_storage"],
)  # fmt: skip
def test_the_flat_modules_are_gone(old: str) -> None:
    assert importlib.util.find_spec(f"agent.{old}") is None


def test_importing_the_sdk_loads_no_server_code(tmp_path: Path) -> None:
    """In a fresh interpreter (this one has the app loaded for other tests): import the SDK,
    build a client and find the agent, then list what got imported."""
    script = (
        "import json, sys\n"
        "from agent.client import AgentClient, discover\n"
        "AgentClient(*discover(env={'OPENFABRIC_HOME': sys.argv[1]}))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "home")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = json.loads(done.stdout)
    assert "agent.client.transport" in loaded
    server = [m for m in loaded if m.startswith(tuple(f"{s}." for s in SERVER_MODULES))]
    assert [m for m in loaded if m in SERVER_MODULES] + server == []
