"""`/api/nodes/{id}/telemetry` for another member: asked of that member over the peer channel,
bounded, and checked to be about it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from agent.telemetry.models import TelemetryHistory
from agent.telemetry.remote import MAX_SAMPLES, thin
from tests.harness import AgentProcess, agent_processes, call, form_cluster, wait_until


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AgentProcess]]:
    root = tmp_path_factory.mktemp("pair")
    with agent_processes([root / "a", root / "b"]) as agents:
        form_cluster(agents)
        yield agents


def test_a_member_s_history_comes_from_that_member(pair: list[AgentProcess]) -> None:
    a, b = pair
    b_id = b.info["node_id"]
    wait_until(
        lambda: call(b, "GET", f"/api/nodes/{b_id}/telemetry").json()["count"] >= 5,
        20,
        "five samples on B",
    )
    response = call(a, "GET", f"/api/nodes/{b_id}/telemetry")
    assert response.status_code == 200, response.text
    history = TelemetryHistory.model_validate(response.json())
    assert history.node_id == b_id
    assert history.count == len(history.samples) >= 5
    assert {s.node_id for s in history.samples} == {b_id}
    stamps = [s.ts for s in history.samples]
    assert stamps == sorted(stamps)
    # The same samples B itself holds (B keeps sampling, so A's copy is a prefix of a later read).
    own = {s["ts"] for s in call(b, "GET", f"/api/nodes/{b_id}/telemetry").json()["samples"]}
    assert set(stamps) <= own

    recent = call(a, "GET", f"/api/nodes/{b_id}/telemetry", params={"seconds": 1}).json()
    assert 1 <= recent["count"] < history.count + 10
    assert all(s["ts"] >= time.time() - 3 for s in recent["samples"])


def test_unknown_members_and_bad_queries(pair: list[AgentProcess]) -> None:
    a, _ = pair
    missing = call(a, "GET", "/api/nodes/nosuchnode/telemetry")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "NODE_NOT_FOUND"
    bad = call(a, "GET", f"/api/nodes/{a.info['node_id']}/telemetry", params={"seconds": "-1"})
    assert bad.status_code == 400


def test_thinning_keeps_the_span_and_the_newest() -> None:
    assert thin([], 3) == []
    values = list(range(10_000))
    thinned = thin(values, MAX_SAMPLES)
    assert len(thinned) == MAX_SAMPLES
    assert thinned[0] == 0
    assert thinned[-1] == 9_999
    assert thinned == sorted(thinned)
    assert thin(values[:5], MAX_SAMPLES) == values[:5]


def test_a_member_that_is_gone_is_a_clear_503(pair: list[AgentProcess]) -> None:
    """Last in the file: it stops B for good."""
    a, b = pair
    b.stop(signal.SIGKILL)
    response = call(a, "GET", f"/api/nodes/{b.info['node_id']}/telemetry")
    assert response.status_code == 503
    body = response.json()
    assert body["error_code"] == "NODE_UNREACHABLE"
    assert body["details"] == {"node_id": b.info["node_id"]}
