"""Finding 7: the browser never holds the API token.

The dashboard cookie was the raw API token (sent by the browser to every server on
127.0.0.1, whatever the port) and `openfabric dashboard` put `?token=` on the browser's
command line. Now a bearer-authenticated POST makes a single-use, short-lived login code;
`/login?code=` swaps it for a session secret in a per-agent HttpOnly SameSite=Strict cookie.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agent.app import create_app
from agent.core.security import cookie_name
from agent.core.sessions import SessionStore
from tests.core.test_security import assert_error
from tests.harness import make_settings

URL = "http://127.0.0.1:4892"
COOKIE = cookie_name(4892)


@pytest.fixture
def anon(home: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(home, port=4892))
    with TestClient(app, base_url=URL) as client:
        yield client


def token_of(home: Path) -> str:
    return (home / "local.token").read_text().strip()


def bearer(home: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(home)}"}


def new_code(client: TestClient, home: Path) -> str:
    response = client.post("/api/auth/login-code", headers=bearer(home))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["login_path"] == f"/login?code={body['code']}"
    assert body["expires_in"] == 60
    assert response.headers["cache-control"] == "no-store"
    return str(body["code"])


def test_login_code_gives_a_session_cookie_that_is_not_the_token(
    anon: TestClient, home: Path
) -> None:
    code = new_code(anon, home)
    response = anon.get(f"/login?code={code}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Path=/" in cookie
    value = response.cookies[COOKIE]
    assert value != token_of(home)
    assert token_of(home) not in cookie
    assert code not in cookie
    assert anon.get("/api/status").status_code == 200
    assert anon.get("/v1/models").status_code == 200


def test_a_login_code_works_once(anon: TestClient, home: Path) -> None:
    code = new_code(anon, home)
    assert anon.get(f"/login?code={code}", follow_redirects=False).status_code == 303
    anon.cookies.clear()
    again = anon.get(f"/login?code={code}", follow_redirects=False)
    assert_error(again, 401, "INVALID_LOGIN_CODE")
    assert "set-cookie" not in again.headers
    assert anon.get("/api/status").status_code == 401


def test_a_login_code_does_not_work_after_expiry(anon: TestClient, home: Path) -> None:
    code = new_code(anon, home)
    sessions: SessionStore = anon.app.state.sessions  # type: ignore[attr-defined]
    sessions.clock = lambda: time.monotonic() + 61
    response = anon.get(f"/login?code={code}", follow_redirects=False)
    assert_error(response, 401, "INVALID_LOGIN_CODE")
    assert "set-cookie" not in response.headers


def test_made_up_codes_are_refused(anon: TestClient) -> None:
    for path in ("/login", "/login?code=", "/login?code=guess"):
        response = anon.get(path, follow_redirects=False)
        assert_error(response, 401, "INVALID_LOGIN_CODE")


def test_the_token_in_a_cookie_is_refused(anon: TestClient, home: Path) -> None:
    for name in (COOKIE, "openfabric_session"):
        anon.cookies.clear()
        anon.cookies.set(name, token_of(home))
        assert_error(anon.get("/api/status"), 401, "UNAUTHORIZED")


def test_the_token_in_a_query_string_is_refused(anon: TestClient, home: Path) -> None:
    for param in ("token", "access_token", "api_key"):
        response = anon.get(f"/api/status?{param}={token_of(home)}")
        assert_error(response, 401, "UNAUTHORIZED")
    # The old login link no longer signs anyone in.
    old = anon.get(f"/?token={token_of(home)}", follow_redirects=False)
    assert "set-cookie" not in old.headers
    assert anon.get("/api/status").status_code == 401


def test_a_session_cannot_mint_login_codes(anon: TestClient, home: Path) -> None:
    anon.get(f"/login?code={new_code(anon, home)}", follow_redirects=False)
    assert_error(anon.post("/api/auth/login-code"), 403, "TOKEN_REQUIRED")
    anon.cookies.clear()
    assert_error(anon.post("/api/auth/login-code"), 401, "UNAUTHORIZED")


def test_logout_ends_the_session(anon: TestClient, home: Path) -> None:
    anon.get(f"/login?code={new_code(anon, home)}", follow_redirects=False)
    secret = anon.cookies[COOKIE]
    response = anon.post("/api/auth/logout")
    assert response.status_code == 200
    assert response.json() == {"logged_out": True}
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    anon.cookies.clear()
    anon.cookies.set(COOKIE, secret)
    assert_error(anon.get("/api/status"), 401, "UNAUTHORIZED")


def test_an_idle_session_expires(anon: TestClient, home: Path) -> None:
    anon.get(f"/login?code={new_code(anon, home)}", follow_redirects=False)
    assert anon.get("/api/status").status_code == 200
    sessions: SessionStore = anon.app.state.sessions  # type: ignore[attr-defined]
    idle = anon.app.state.settings.session_idle_timeout  # type: ignore[attr-defined]
    sessions.clock = lambda: time.monotonic() + idle + 1
    assert_error(anon.get("/api/status"), 401, "UNAUTHORIZED")


def test_a_session_cookie_still_meets_the_origin_check(anon: TestClient, home: Path) -> None:
    anon.get(f"/login?code={new_code(anon, home)}", follow_redirects=False)
    response = anon.post("/api/auth/logout", headers={"Origin": "http://127.0.0.1:9999"})
    assert_error(response, 403, "ORIGIN_NOT_ALLOWED")


def test_each_agent_has_its_own_cookie_name() -> None:
    assert cookie_name(4892) != cookie_name(4900)


def test_sessions_are_kept_only_as_digests() -> None:
    store = SessionStore("c", idle_ttl=60, code_ttl=60)
    code = store.issue_code()
    secret = store.redeem(code)
    assert secret is not None
    held = repr(store._codes) + repr(store._sessions)
    assert code not in held
    assert secret not in held
