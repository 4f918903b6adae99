"""Finding 2 (headers): the dashboard and the API answer with strict security headers.

Without them a JSON or text answer opened as a page could be sniffed into HTML, the
dashboard could be framed (clickjacking) or run injected inline script, and authenticated
answers could sit in the browser's cache.
"""

from __future__ import annotations

import pytest
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from agent.core.headers import API_CSP, DASHBOARD_CSP

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def assert_common(headers) -> None:  # type: ignore[no-untyped-def]
    for name, value in COMMON.items():
        assert headers[name] == value, name


def test_dashboard_page_has_a_strict_csp(api: TestClient) -> None:
    response = api.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert csp == DASHBOARD_CSP
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "connect-src 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert_common(response.headers)


def test_dashboard_has_no_inline_script_or_style(api: TestClient) -> None:
    html = api.get("/").text.lower()
    assert "<script>" not in html
    assert "<style" not in html
    assert " style=" not in html
    assert " onload=" not in html
    assert " onclick=" not in html


@pytest.mark.parametrize("path", ["/api/status", "/api/health", "/v1/models", "/api/nope"])
def test_api_answers_forbid_everything_and_are_not_cached(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.headers["content-security-policy"] == API_CSP
    assert response.headers["cache-control"] == "no-store"
    assert_common(response.headers)


def test_refusals_carry_the_headers_too(api: TestClient) -> None:
    anonymous = api.get("/api/status", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    foreign = api.get("/api/status", headers={"Host": "evil.example"})
    assert foreign.status_code == 403
    for response in (anonymous, foreign):
        assert response.headers["content-security-policy"] == API_CSP
        assert response.headers["cache-control"] == "no-store"
        assert_common(response.headers)


def test_assets_cannot_run_as_documents(api: TestClient) -> None:
    response = api.get("/assets/favicon.svg")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == API_CSP
    assert_common(response.headers)


def test_a_route_own_headers_win(api: TestClient) -> None:
    async def download(request: object) -> Response:
        return Response(
            b"<script>alert(1)</script>",
            media_type="text/html",
            headers={"Content-Security-Policy": "sandbox", "Cache-Control": "private"},
        )

    api.app.router.routes.insert(0, Route("/api/test-download", download))  # type: ignore[attr-defined]
    response = api.get("/api/test-download")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["cache-control"] == "private"
    assert response.headers.get_list("content-security-policy") == ["sandbox"]
    assert_common(response.headers)
