"""The routes of cluster, discovery, telemetry, ops and sign-in declare their answer models, and
a real answer of each matches the schema `/api/openapi.json` publishes for it."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from agent.cluster.models import ClusterNode, ClusterStatus, NodeList
from agent.ops.models import HealthProbe, HealthReport
from tests.ops.published import answer_schema, assert_matches, problems

ANSWERING = [
    ("GET", "/api/status"),
    ("GET", "/api/nodes"),
    ("GET", "/api/nodes/{node_id}"),
    ("DELETE", "/api/nodes/{node_id}"),
    ("GET", "/api/nodes/{node_id}/telemetry"),
    ("GET", "/api/cluster/join-token"),
    ("POST", "/api/cluster/join-remote"),
    ("POST", "/api/cluster/leave"),
    ("GET", "/api/cluster/discovered"),
    ("GET", "/api/health"),
    ("GET", "/api/metrics"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/login-code"),
    ("POST", "/api/auth/logout"),
]


@pytest.fixture
def spec(api: TestClient) -> dict[str, Any]:
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_each_route_declares_its_answer_model(api: TestClient, spec: dict[str, Any]) -> None:
    declared = {
        (method, route.path): route.doc.answer  # type: ignore[attr-defined]
        for route in api.app.routes
        if isinstance(route, Route) and getattr(route, "doc", None) is not None
        for method in (route.methods or set()) - {"HEAD"}
    }
    for method, path in ANSWERING:
        model = declared[(method, path)]
        assert model is not None, (method, path)
        assert answer_schema(spec, method, path)["$ref"].endswith("/" + model.__name__)
        assert model.__name__ in spec["components"]["schemas"]
    # The event stream answers SSE, which no JSON schema describes.
    assert declared[("GET", "/api/events")] is None
    events = spec["paths"]["/api/events"]["get"]["responses"]["200"]["content"]
    assert events == {"text/event-stream": {}}


def test_cluster_answers_match(api: TestClient, spec: dict[str, Any]) -> None:
    status = api.get("/api/status").json()
    assert_matches(spec, "GET", "/api/status", status)
    nodes = api.get("/api/nodes").json()
    assert_matches(spec, "GET", "/api/nodes", nodes)
    node = api.get(f"/api/nodes/{status['node_id']}").json()
    assert_matches(spec, "GET", "/api/nodes/{node_id}", node)
    # The SDK reads the same answers as the same models, and gives back the same JSON.
    assert ClusterStatus.model_validate(status).model_dump(mode="json") == status
    assert NodeList.model_validate(nodes).model_dump(mode="json") == nodes
    assert ClusterNode.model_validate(node).model_dump(mode="json") == node

    token = api.get("/api/cluster/join-token").json()
    assert_matches(spec, "GET", "/api/cluster/join-token", token)
    discovered = api.get("/api/cluster/discovered").json()
    assert discovered == {"agents": [], "count": 0, "mdns": False}
    assert_matches(spec, "GET", "/api/cluster/discovered", discovered)


def test_telemetry_answer_matches(api: TestClient, spec: dict[str, Any]) -> None:
    node_id = api.get("/api/status").json()["node_id"]
    history = api.get(f"/api/nodes/{node_id}/telemetry").json()
    assert history["count"] >= 1
    assert_matches(spec, "GET", "/api/nodes/{node_id}/telemetry", history)


def test_ops_answers_match(api: TestClient, spec: dict[str, Any]) -> None:
    report = api.get("/api/health").json()
    assert_matches(spec, "GET", "/api/health", report)
    assert isinstance(HealthReport.model_validate(report), HealthReport)
    anonymous = api.get("/api/health", headers={"Authorization": ""}).json()
    assert anonymous in ({"status": "ok"}, {"status": "unhealthy"})
    assert_matches(spec, "GET", "/api/health", anonymous)
    assert HealthProbe.model_validate(anonymous).status == anonymous["status"]

    metrics = api.get("/api/metrics").json()
    assert_matches(spec, "GET", "/api/metrics", metrics)
    assert_matches(spec, "GET", "/api/openapi.json", spec)


def test_sign_in_answers_match(api: TestClient, spec: dict[str, Any]) -> None:
    code = api.post("/api/auth/login-code").json()
    assert code["login_path"].startswith("/login?code=")
    assert_matches(spec, "POST", "/api/auth/login-code", code)
    logged_out = api.post("/api/auth/logout").json()
    assert logged_out == {"logged_out": False}
    assert_matches(spec, "POST", "/api/auth/logout", logged_out)


def test_the_check_catches_an_answer_of_another_shape(
    api: TestClient, spec: dict[str, Any]
) -> None:
    status = api.get("/api/status").json()
    assert problems(spec, "GET", "/api/status", {**status, "ram": {"total": 1}})
    assert problems(spec, "GET", "/api/status", {**status, "cluster_id": 7})
    node = api.get(f"/api/nodes/{status['node_id']}").json()
    assert problems(spec, "GET", "/api/nodes/{node_id}", {**node, "state": "asleep"})
    # A member's capability it did not report is left out, never sent as null.
    assert None not in node["capabilities"].values()
