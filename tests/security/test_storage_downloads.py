"""Stored files cannot script the API's origin: an uploaded page or image is served as an
inert attachment on every kind of file response, whatever its name."""

from __future__ import annotations

from urllib.parse import quote, unquote

import httpx
import pytest
from starlette.testclient import TestClient

from agent.storage.file_headers import file_headers
from tests.harness import LiveAgent

SCRIPT = b"<html><script>fetch('/api/cluster/join-token').then(r => r.text())</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
ACTIVE = {
    "evil.html": SCRIPT,
    "evil.htm": SCRIPT,
    "evil.svg": SVG,
    "evil.xml": SVG,
    "evil.xhtml": SCRIPT,
    "evil.js": b"alert(1)",
    "evil.css": b"body{}",
    "evil.pdf": b"%PDF-1.4 /JS (app.alert(1))",
    "noextension": SCRIPT,
}
INERT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/")


def upload(api: TestClient, path: str, data: bytes) -> None:
    response = api.post("/api/storage/upload", params={"path": path}, content=data)
    assert response.status_code == 201, response.text


def assert_inert(headers: httpx.Headers, *, inline_ok: bool = False) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    csp = headers["content-security-policy"]
    assert "sandbox" in csp
    assert "default-src 'none'" in csp
    disposition = headers["content-disposition"]
    if not inline_ok:
        assert disposition.startswith("attachment;"), disposition
    assert "set-cookie" not in headers
    kind = headers.get("content-type", "")
    if kind:
        assert kind == "application/octet-stream" or kind.startswith(
            ("text/plain; charset=utf-8", *INERT_TYPES)
        ), kind


@pytest.mark.parametrize("name", sorted(ACTIVE))
@pytest.mark.parametrize("query", ["", "?inline=true", "?inline=1"])
def test_active_content_is_an_inert_attachment(api: TestClient, name: str, query: str) -> None:
    upload(api, f"up/{name}", ACTIVE[name])
    response = api.get(f"/api/storage/up/{name}{query}")
    assert response.status_code == 200
    assert response.content == ACTIVE[name]
    assert response.headers["content-type"] == "application/octet-stream"
    assert_inert(response.headers)


def test_every_file_response_carries_the_defences(api: TestClient) -> None:
    upload(api, "evil.html", SCRIPT)
    partial = api.get("/api/storage/evil.html?inline=1", headers={"Range": "bytes=0-5"})
    assert partial.status_code == 206
    assert partial.content == SCRIPT[:6]
    assert_inert(partial.headers)
    head = api.head("/api/storage/evil.html?inline=1")
    assert head.status_code == 200
    assert_inert(head.headers)
    etag = head.headers["etag"]
    cached = api.get("/api/storage/evil.html", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert_inert(cached.headers)
    refused = api.get("/api/storage/evil.html", headers={"Range": "bytes=999-"})
    assert refused.status_code == 416
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in refused.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("cat.png", "image/png"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("readme.md", "text/plain; charset=utf-8"),
        ("clip.mp4", "video/mp4"),
    ],
)
def test_inert_types_may_be_shown_inline(api: TestClient, name: str, kind: str) -> None:
    upload(api, name, b"\x89PNG not really")
    default = api.get(f"/api/storage/{name}")
    assert default.headers["content-disposition"].startswith("attachment;")
    shown = api.get(f"/api/storage/{name}?inline=true")
    assert shown.headers["content-type"] == kind
    assert shown.headers["content-disposition"].startswith("inline;")
    assert_inert(shown.headers, inline_ok=True)


def test_quotes_and_unicode_in_a_name_cannot_break_the_header(api: TestClient) -> None:
    name = 'x"; filename="evil.html; é 雪.html'
    upload(api, f"dir/{name}", SCRIPT)
    response = api.get("/api/storage/dir/" + name)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert response.headers.get_list("content-disposition") == [disposition]
    plain, encoded = disposition.split("; filename*=UTF-8''")
    assert plain.startswith('attachment; filename="')
    assert plain.count('"') == 2
    assert unquote(encoded) == name
    assert_inert(response.headers)


@pytest.mark.parametrize(
    "name", ['x".html\r\nSet-Cookie: a=b', "x.html\nSet-Cookie: a=b", "x\r.html"]
)
async def test_header_injection_through_a_name_is_refused(live: LiveAgent, name: str) -> None:
    async with live.client() as client:
        raw = await client.post("/api/storage/upload", params={"path": name}, content=SCRIPT)
        assert raw.status_code == 400
        assert raw.json()["error_code"] == "INVALID_PATH"
        # A multipart client escapes the name (RFC 7578); whatever is stored comes back safe.
        multipart = await client.post("/api/storage/upload", files={"file": (name, SCRIPT)})
        if multipart.status_code == 201:
            stored = multipart.json()["path"]
            response = await client.get("/api/storage/" + quote(stored))
            assert response.status_code == 200
            assert len(response.headers.get_list("content-disposition")) == 1
            assert_inert(response.headers)
        else:
            assert multipart.status_code == 400
    # The header builder alone never emits a line break, a raw quote or an inline page.
    built = file_headers(f"a/{name}", want_inline=True)["Content-Disposition"]
    assert "\r" not in built
    assert "\n" not in built
    assert built.startswith("attachment;")
    assert built.split('filename="')[1].split('"')[0].isprintable()
