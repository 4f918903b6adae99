"""Pulse's HTTP surface on the whole app: a card raised by a real evaluation, dismissed and
listed; bad input on every route is a 4xx in the standard format and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from agent.app import create_app
from agent.pulse.rulepack import RulesError
from tests.harness import make_settings, wait_until
from tests.wire_check import checked

LOCAL = "http://127.0.0.1:4892"
# Any memory in use at all raises it at once: a card every test can count on.
ALWAYS = """
rules:
  - id: memory_pressure
    warning: {raise: 0, clear: 0}
    critical: {raise: 101, clear: 101}
    for: 0
"""


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("pulse-routes")
    rules = root / "rules.yaml"
    rules.write_text(ALWAYS)
    home = root / "home"
    settings = make_settings(home, port=4892, pulse_rules=str(rules), pulse_interval=0.1)
    with TestClient(checked(create_app(settings)), base_url=LOCAL) as client:
        client.headers["Authorization"] = f"Bearer {(home / 'local.token').read_text().strip()}"
        yield client


def card_ids(client: TestClient, dismissed: bool = False) -> list[str]:
    query = "?include_dismissed=true" if dismissed else ""
    return [c["id"] for c in client.get("/api/pulse/insights" + query).json()["insights"]]


def test_a_card_is_listed_dismissed_and_kept_dismissed(app_client: TestClient) -> None:
    node_id = app_client.get("/api/status").json()["node_id"]
    key = f"memory_pressure:{node_id}"
    wait_until(lambda: card_ids(app_client) == [key], 10, "the memory card")
    listing = app_client.get("/api/pulse/insights").json()
    assert listing["count"] == 1
    assert listing["evaluator"] == node_id
    card = listing["insights"][0]
    assert card["severity"] == "warning"
    assert card["node_id"] == node_id
    assert not card["dismissed"]
    response = app_client.post(f"/api/pulse/insights/{quote(key, safe='')}/dismiss")
    assert response.status_code == 200
    assert response.json()["dismissed"] is True
    assert card_ids(app_client) == []
    assert card_ids(app_client, dismissed=True) == [key]
    history = app_client.get("/api/pulse/history", params={"rule": "memory_pressure"}).json()
    assert [(c["from_status"], c["to_status"], c["dismissed"]) for c in history["changes"]] == [
        ("warning", "warning", True),
        ("ok", "warning", False),
    ]
    assert history["evaluations"]
    assert all(e["rule"] == "memory_pressure" for e in history["evaluations"])
    assert app_client.get("/api/pulse/history", params={"limit": 1}).json()["count"] <= 2
    weekly = wait_until(
        lambda: (w := app_client.get("/api/pulse/weekly").json())["uptime"] and w, 10, "uptime"
    )
    assert weekly["missing"] == []
    assert weekly["tasks"][0]["node_id"] is None
    assert [u["node_id"] for u in weekly["uptime"]] == [node_id]
    assert weekly["uptime"][0]["uptime_percent"] == 100.0


BAD_REQUESTS = [
    ("GET", "/api/pulse/insights?include_dismissed=maybe", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/insights?evil=1", 400, "VALIDATION_ERROR"),
    ("POST", "/api/pulse/insights", 405, "METHOD_NOT_ALLOWED"),
    ("POST", "/api/pulse/insights/nothing/dismiss", 404, "INSIGHT_NOT_FOUND"),
    ("POST", "/api/pulse/insights/memory_pressure%3Aabc%2F..%2F/dismiss", 404, "INSIGHT_NOT_FOUND"),
    ("POST", "/api/pulse/insights/a%01b/dismiss", 400, "INVALID_ID"),
    ("POST", "/api/pulse/insights/" + "x" * 2001 + "/dismiss", 400, "INVALID_ID"),
    ("POST", "/api/pulse/insights/x/dismiss?force=1", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/insights/x/dismiss", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/api/pulse/history?limit=0", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/history?limit=1001", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/history?limit=-1", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/history?limit=ten", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/history?limit=99999999999999999999999", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/history?rule=", 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/history?node=" + "n" * 201, 400, "VALIDATION_ERROR"),
    ("GET", "/api/pulse/history?since=1", 400, "VALIDATION_ERROR"),
    ("POST", "/api/pulse/history", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/api/pulse/weekly?days=30", 400, "VALIDATION_ERROR"),
    ("DELETE", "/api/pulse/weekly", 405, "METHOD_NOT_ALLOWED"),
]


@pytest.mark.parametrize(("method", "path", "status", "code"), BAD_REQUESTS)
def test_bad_input_is_refused_in_the_standard_format(
    app_client: TestClient, method: str, path: str, status: int, code: str
) -> None:
    before = card_ids(app_client, dismissed=True)
    response = app_client.request(method, path)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error_code"] == code
    assert body["error"]
    assert card_ids(app_client, dismissed=True) == before


def test_the_routes_are_published(app_client: TestClient) -> None:
    paths = app_client.get("/api/openapi.json").json()["paths"]
    assert {"get"} <= set(paths["/api/pulse/insights"])
    assert "post" in paths["/api/pulse/insights/{insight_id}/dismiss"]
    assert "get" in paths["/api/pulse/history"]
    assert "get" in paths["/api/pulse/weekly"]


def test_a_rules_file_with_an_error_stops_the_agent_from_starting(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: cpu_saturated\n    for: soon\n")
    app = create_app(make_settings(tmp_path / "home", port=4892, pulse_rules=str(rules)))
    with pytest.raises(BaseExceptionGroup) as caught, TestClient(app, base_url=LOCAL):
        pass
    found: list[BaseException] = [caught.value]
    while isinstance(found[-1], BaseExceptionGroup):
        found.append(found[-1].exceptions[0])
    assert isinstance(found[-1], RulesError)
    assert f"{rules}, line 3 (rule cpu_saturated): for:" in str(found[-1])
