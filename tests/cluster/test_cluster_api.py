from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.core.test_security import assert_error


def test_status_summarises_the_single_node(api: TestClient) -> None:
    status = api.get("/api/status").json()
    assert status["node_count"] == 1
    assert status["online_count"] == 1
    assert status["ram"]["total"] > 0
    assert 0 < status["ram"]["available"] <= status["ram"]["total"]
    assert status["storage"]["total"] >= status["storage"]["free"] > 0
    assert status["gpu_count"] == 0
    assert status["vram"] == {"total": 0, "used": 0, "free": 0}
    assert status["cpu_cores"] >= 1


def test_nodes_lists_this_node_with_resources(api: TestClient) -> None:
    body = api.get("/api/nodes").json()
    assert body["count"] == 1
    (node,) = body["nodes"]
    status = api.get("/api/status").json()
    assert node["node_id"] == status["node_id"]
    assert node["is_self"] is True
    assert node["state"] == "online"
    assert len(node["fingerprint"]) == 64
    telemetry = node["telemetry"]
    for key in ("cpu", "memory", "swap", "disks", "network", "gpus", "system"):
        assert key in telemetry
    assert node["resources"]["ram_total"] == telemetry["memory"]["total"]


def test_node_by_id(api: TestClient) -> None:
    node_id = api.get("/api/status").json()["node_id"]
    node = api.get(f"/api/nodes/{node_id}").json()
    assert node["node_id"] == node_id
    assert node["telemetry"]["system"]["hostname"]


def test_unknown_node_is_404(api: TestClient) -> None:
    response = api.get("/api/nodes/nope")
    assert_error(response, 404, "NODE_NOT_FOUND")
    assert response.json()["details"]["node_id"] == "nope"
    assert_error(api.delete("/api/nodes/nope"), 404, "NODE_NOT_FOUND")


def test_evicting_yourself_is_409_and_changes_nothing(api: TestClient) -> None:
    node_id = api.get("/api/status").json()["node_id"]
    assert_error(api.delete(f"/api/nodes/{node_id}"), 409, "CANNOT_EVICT_SELF")
    assert api.get("/api/status").json()["node_count"] == 1


def test_node_ids_with_odd_characters_are_just_unknown(api: TestClient) -> None:
    for node_id in ("..%2F..%2Fetc", "%00", "a" * 500, "'; DROP TABLE nodes; --"):
        assert api.get(f"/api/nodes/{node_id}").status_code == 404
    assert api.get("/api/status").json()["node_count"] == 1


def test_unreadable_remote_telemetry_counts_as_none() -> None:
    from agent.cluster.service import resources_of
    from agent.telemetry.service import summarize

    class Readings:
        def latest(self) -> None:
            return None

        def summarize(self, sample: Any) -> Any:
            return summarize(sample)

    odd: list[Any] = [
        None,
        {},
        {"cpu": {}},
        {"cpu": {"percent": 1}, "memory": None},
        # Readable keys, values of another type: a member on another version, or a liar.
        {
            "ts": 1.0,
            "cpu": {"percent": 1, "load": [], "count_logical": "many"},
            "memory": {"total": "lots", "available": 1},
            "storage": {"total": 1, "free": 1},
            "gpus": [],
        },
    ]
    for sample in odd:
        resources = resources_of(Readings(), sample)
        assert resources.ram_total == 0
        assert resources.cpu_percent is None
