"""The dashboard's files and URLs, without a browser: page URLs answer the shell, API paths
never do, and the vendored libraries are exactly the pinned files with their licences."""

from __future__ import annotations

import hashlib
import re

import pytest
from starlette.testclient import TestClient

from agent.dashboard import DEFAULT_DIR

ASSETS = DEFAULT_DIR / "assets"
VENDOR = ASSETS / "vendor"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize("path", ["/", "/tasks", "/nodes/abc123", "/storage/docs/a%20b.txt"])
def test_page_urls_answer_the_shell(api: TestClient, path: str) -> None:
    response = api.get(path, headers=HTML)
    assert response.status_code == 200
    assert response.text == (DEFAULT_DIR / "index.html").read_text()
    assert "script-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "path", "accept"),
    [
        ("GET", "/api/nope", HTML),
        ("GET", "/v1/nope", HTML),
        ("GET", "/peer/nope", HTML),
        ("GET", "/assets/nope.js", HTML),
        ("GET", "/tasks", {"Accept": "application/json"}),
        ("POST", "/tasks", HTML),
        ("DELETE", "/anything", HTML),
        ("GET", "/" + "x" * 600, HTML),
    ],
)
def test_other_paths_stay_standard_404s(
    api: TestClient, method: str, path: str, accept: dict[str, str]
) -> None:
    response = api.request(method, path, headers=accept)
    assert response.status_code == 404
    if not path.startswith("/assets/"):
        body = response.json()
        assert body["success"] is False
        assert body["error_code"] == "NOT_FOUND"


def test_vendored_files_match_their_checksums() -> None:
    listed = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    present = {
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.parent != VENDOR
    }
    assert present == set(listed), "every vendored file is listed, and only those"
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    for library in {name.split("/")[0] for name in listed}:
        assert f"{library}/LICENSE" in listed, f"{library} ships without its licence"
        assert re.search(r"-\d+\.\d+\.\d+$", library), f"{library} is not pinned to a version"
        assert library.rsplit("-", 1)[1] in (VENDOR / "README.md").read_text()


def test_the_dashboard_loads_nothing_from_elsewhere() -> None:
    """No CDN: every script, style and import is one of the agent's own files."""
    external = re.compile(r"""(src|href|import|from)\s*=?\s*\(?["'](https?:)?//""")
    for path in [DEFAULT_DIR / "index.html", *ASSETS.rglob("*.js"), *ASSETS.rglob("*.css")]:
        if VENDOR in path.parents:
            continue
        text = path.read_text()
        assert not external.search(text), path
        assert "innerHTML" not in text, f"{path}: build DOM with h(), never from markup"
