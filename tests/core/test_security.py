from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agent.app import create_app
from tests.harness import make_settings

URL = "http://127.0.0.1:4892"


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error_code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["details"], dict)


@pytest.fixture
def anon(home: Path):
    app = create_app(make_settings(home, port=4892))
    with TestClient(app, base_url=URL) as client:
        yield client


def token_of(home: Path) -> str:
    return (home / "local.token").read_text().strip()


def test_token_file_is_private(anon: TestClient, home: Path) -> None:
    assert (home / "local.token").stat().st_mode & 0o777 == 0o600
    assert len(token_of(home)) >= 32


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:4892", "127.0.0.1:9999", "localhost", "192.168.1.5:4892", ""],
)
def test_foreign_host_header_is_refused(anon: TestClient, home: Path, host: str) -> None:
    response = anon.get("/api/health", headers={"Host": host})
    assert_error(response, 403, "HOST_NOT_ALLOWED")


@pytest.mark.parametrize("host", ["127.0.0.1:4892", "localhost:4892", "[::1]:4892"])
def test_loopback_hosts_are_allowed(anon: TestClient, host: str) -> None:
    assert anon.get("/api/health", headers={"Host": host}).status_code == 200


def test_health_needs_no_token(anon: TestClient) -> None:
    assert anon.get("/api/health").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/status",
        "/api/nodes",
        "/api/metrics",
        "/api/events",
        "/api/openapi.json",
        "/v1/models",
        "/api/unknown",
        "/mcp",
        "/mcp/anything",
    ],
)
def test_api_needs_the_token(anon: TestClient, path: str) -> None:
    response = anon.get(path)
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_token_is_refused(anon: TestClient) -> None:
    response = anon.get("/api/status", headers={"Authorization": "Bearer nope"})
    assert_error(response, 401, "UNAUTHORIZED")
    response = anon.get("/api/status", headers={"Authorization": "Basic abc"})
    assert_error(response, 401, "UNAUTHORIZED")


def test_right_token_is_accepted(anon: TestClient, home: Path) -> None:
    response = anon.get("/api/status", headers={"Authorization": f"Bearer {token_of(home)}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "http://127.0.0.1:9999", "https://127.0.0.1:4892"]
)
def test_cross_site_origin_on_state_change_is_refused(
    anon: TestClient, home: Path, origin: str
) -> None:
    response = anon.delete(
        "/api/nodes/x", headers={"Authorization": f"Bearer {token_of(home)}", "Origin": origin}
    )
    assert_error(response, 403, "ORIGIN_NOT_ALLOWED")


def test_sec_fetch_site_cross_site_is_refused(anon: TestClient, home: Path) -> None:
    response = anon.delete(
        "/api/nodes/x",
        headers={"Authorization": f"Bearer {token_of(home)}", "Sec-Fetch-Site": "cross-site"},
    )
    assert_error(response, 403, "ORIGIN_NOT_ALLOWED")


def test_same_origin_state_change_passes_the_origin_check(anon: TestClient, home: Path) -> None:
    response = anon.delete(
        "/api/nodes/unknown",
        headers={"Authorization": f"Bearer {token_of(home)}", "Origin": "http://localhost:4892"},
    )
    assert_error(response, 404, "NODE_NOT_FOUND")


def test_foreign_origin_on_a_read_is_not_refused_by_the_origin_check(
    anon: TestClient, home: Path
) -> None:
    response = anon.get(
        "/api/status",
        headers={"Authorization": f"Bearer {token_of(home)}", "Origin": "http://evil.example"},
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_foreign_origin_on_a_read_of_the_mcp_endpoint_is_refused(
    anon: TestClient, home: Path
) -> None:
    response = anon.get(
        "/mcp",
        headers={"Authorization": f"Bearer {token_of(home)}", "Origin": "http://evil.example"},
    )
    assert_error(response, 403, "ORIGIN_NOT_ALLOWED")


def test_auth_none_turns_the_token_off_but_keeps_host_checks(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, port=4892, auth="none"))
    with TestClient(app, base_url=URL) as client:
        assert client.get("/api/status").status_code == 200
        assert not (tmp_path / "local.token").exists()
        assert_error(
            client.get("/api/status", headers={"Host": "evil.example"}), 403, "HOST_NOT_ALLOWED"
        )


def test_token_survives_restart(home: Path) -> None:
    first = create_app(make_settings(home, port=4892))
    with TestClient(first, base_url=URL):
        token = token_of(home)
    second = create_app(make_settings(home, port=4892))
    with TestClient(second, base_url=URL) as client:
        assert token_of(home) == token
        assert client.get("/api/status", headers={"Authorization": f"Bearer {token}"}).is_success
