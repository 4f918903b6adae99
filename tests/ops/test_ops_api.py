from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.core.test_security import assert_error


def test_health_reports_each_check(api: TestClient) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in ("healthy", "degraded")
    names = {c["name"] for c in body["checks"]}
    assert {"database", "disk", "telemetry", "event_bus"} <= names
    assert all(c["status"] in ("pass", "warn", "fail") and c["detail"] for c in body["checks"])


def test_health_is_503_when_a_check_fails(api: TestClient) -> None:
    api.app.state.bus.close()
    response = api.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    bus = next(c for c in body["checks"] if c["name"] == "event_bus")
    assert bus["status"] == "fail"


def test_metrics_json(api: TestClient) -> None:
    api.get("/api/status")
    body = api.get("/api/metrics").json()
    assert body["count"] == len(body["metrics"])
    families = {f["name"]: f for f in body["metrics"]}
    requests = families["openfabric_http_requests"]
    assert requests["type"] == "counter"
    assert any(
        s["labels"].get("route") == "/api/status" and s["value"] >= 1 for s in requests["samples"]
    )
    assert families["openfabric_events_dropped"]["type"] == "counter"


def test_metrics_prometheus_text(api: TestClient) -> None:
    api.get("/api/status")
    response = api.get("/api/metrics?format=prometheus")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE openfabric_http_requests_total counter" in text
    assert 'route="/api/status"' in text


def test_metrics_bad_format_is_400(api: TestClient) -> None:
    assert_error(api.get("/api/metrics?format=xml"), 400, "VALIDATION_ERROR")


def test_openapi_describes_every_api_route(api: TestClient) -> None:
    spec = api.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [
        ("/api/status", "get"),
        ("/api/nodes", "get"),
        ("/api/nodes/{node_id}", "get"),
        ("/api/nodes/{node_id}", "delete"),
        ("/api/health", "get"),
        ("/api/metrics", "get"),
        ("/api/events", "get"),
        ("/api/openapi.json", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert paths["/api/health"]["get"]["security"] == []
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", ["/api/status", "/api/nodes", "/api/health"])
def test_json_endpoints_answer_json(api: TestClient, path: str) -> None:
    assert api.get(path).headers["content-type"] == "application/json"


def test_openapi_covers_every_api_route(api: TestClient) -> None:
    from starlette.routing import Route

    spec = api.get("/api/openapi.json").json()
    for route in api.app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            path = route.path.replace(":path}", "}")
            for method in (route.methods or set()) - {"HEAD"}:
                assert method.lower() in spec["paths"].get(path, {}), (method, path)
