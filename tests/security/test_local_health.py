"""Finding 16: `/api/health` without credentials says only whether the agent is up.

It used to show anyone on the machine the node id, version and home path (in the disk
check's detail). The token holder still gets the whole report.
"""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from agent.app import create_app
from tests.harness import make_settings


def test_anonymous_health_is_only_up_or_down(api: TestClient, home: Path) -> None:
    response = api.get("/api/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert str(home) not in response.text
    wrong = api.get("/api/health", headers={"Authorization": "Bearer wrong"})
    assert wrong.json() == {"status": "ok"}


def test_anonymous_health_still_reports_down(api: TestClient) -> None:
    api.app.state.bus.close()  # type: ignore[attr-defined]
    response = api.get("/api/health", headers={"Authorization": ""})
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy"}


def test_the_token_holder_gets_the_full_report(api: TestClient, home: Path) -> None:
    body = api.get("/api/health").json()
    assert body["node_id"] == api.app.state.ctx.identity.node_id  # type: ignore[attr-defined]
    assert {c["name"] for c in body["checks"]} >= {"database", "disk"}
    assert str(home) in " ".join(c["detail"] for c in body["checks"])


def test_with_auth_off_everyone_is_the_owner(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, port=4892, auth="none"))
    with TestClient(app, base_url="http://127.0.0.1:4892") as client:
        assert "checks" in client.get("/api/health").json()


def test_anonymous_polling_does_not_run_the_checks_each_time(api: TestClient) -> None:
    health = api.app.state.subsystems["ops"].health  # type: ignore[attr-defined]
    runs = []
    real = health.report

    async def counted():  # type: ignore[no-untyped-def]
        runs.append(1)
        return await real()

    health.report = counted
    for _ in range(20):
        assert api.get("/api/health", headers={"Authorization": ""}).status_code == 200
    # One run, or two if the reuse window ended during the loop on a slow machine.
    assert len(runs) <= 2
    api.get("/api/health")
    assert len(runs) <= 3, "the token holder always gets a fresh report"
