"""The storage page in a real Chromium against a real two-agent cluster: folders from path
prefixes (deep links, breadcrumb, history), uploads through the file input and by drag and
drop, download, delete with confirmation, and a file that lost a replica shown as degraded."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dash, Fabric, expect, open_dash
from tests.harness import AgentProcess, agent_process, call, join, online_count, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = '<img src=x onerror="document.title=1">.txt'


def put(fabric: Fabric, path: str, data: bytes, on: AgentProcess | None = None) -> Any:
    return fabric.call("POST", "/api/storage/upload", on=on, params={"path": path}, content=data)


def listed(fabric: Fabric, prefix: str) -> dict[str, Any]:
    files = fabric.call("GET", "/api/storage", params={"prefix": prefix})["files"]
    return {f["path"]: f for f in files}


def file_row(dash: Dash, path: str) -> Any:
    # The name cell's title is the whole path (the CSS selector route would need escaping).
    return dash.page.locator("tr.file-row").filter(has=dash.page.get_by_title(path, exact=True))


def payload(name: str, size: int) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/octet-stream", "buffer": os.urandom(size)}


def test_browses_folders_with_deep_links_and_history(fabric: Fabric, dash: Dash) -> None:
    intro = os.urandom(2048)
    stored = put(fabric, "browse/guide/intro.txt", intro)
    put(fabric, "browse/readme.md", b"# readme\n")
    put(fabric, f"browse/{HOSTILE}", b"text")
    page = dash.page

    dash.goto("/storage")
    folder = page.get_by_role("link", name="Open folder browse")
    expect(folder).to_be_visible()
    folder.click()
    expect(page).to_have_url(f"{fabric.a.url}/storage/browse")
    expect(page.get_by_role("link", name="Open folder guide")).to_be_visible()
    expect(file_row(dash, "browse/readme.md")).to_be_visible()
    # A name that looks like markup stays text.
    expect(file_row(dash, f"browse/{HOSTILE}").locator("td.name")).to_have_text(HOSTILE)
    assert page.locator("#view img").count() == 0
    expect(page.locator("[data-summary]")).to_have_attribute("data-files", "3")

    page.get_by_role("link", name="Open folder guide").click()
    expect(page).to_have_url(f"{fabric.a.url}/storage/browse/guide")
    row = file_row(dash, "browse/guide/intro.txt")
    expect(row.locator("td.num")).to_have_text("2.0 KiB")
    expect(row.locator("td.num")).to_have_attribute("title", "2048 bytes")
    sha = hashlib.sha256(intro).hexdigest()
    assert stored["sha256"] == sha
    expect(row.locator("code")).to_have_text(sha[:12])
    expect(row.locator("code")).to_have_attribute("title", sha)
    expect(row.locator(".holders li")).to_have_text(["alpha", "bravo"])
    expect(row.locator(".badge")).to_have_text("healthy")

    crumbs = page.get_by_role("navigation", name="Folder")
    expect(crumbs.locator("[aria-current]")).to_have_text("guide")
    crumbs.get_by_role("link", name="browse").click()
    expect(page).to_have_url(f"{fabric.a.url}/storage/browse")
    expect(page.get_by_role("link", name="Open folder guide")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(f"{fabric.a.url}/storage/browse/guide")
    expect(file_row(dash, "browse/guide/intro.txt")).to_be_visible()
    page.go_forward()
    expect(page).to_have_url(f"{fabric.a.url}/storage/browse")
    expect(file_row(dash, "browse/readme.md")).to_be_visible()

    dash.goto("/storage/browse/guide")
    page.reload()
    expect(file_row(dash, "browse/guide/intro.txt")).to_be_visible()
    expect(page.locator("[data-summary]")).to_have_attribute("data-files", "1")


def test_folder_names_are_encoded_in_links(fabric: Fabric, dash: Dash) -> None:
    put(fabric, "odd/a b?#é/x.txt", b"x")
    dash.goto("/storage/odd")
    link = dash.page.get_by_role("link", name="Open folder a b?#é")
    expect(link).to_have_attribute("href", "/storage/odd/a%20b%3F%23%C3%A9")
    link.click()
    row = file_row(dash, "odd/a b?#é/x.txt")
    expect(row).to_be_visible()
    href = "/api/storage/odd/a%20b%3F%23%C3%A9/x.txt"
    expect(row.get_by_role("link", name="Download x.txt")).to_have_attribute("href", href)


def test_uploads_two_files_from_the_input_and_offers_overwrite(fabric: Fabric, dash: Dash) -> None:
    page = dash.page
    dash.goto("/storage/from-input")
    expect(page.get_by_text("No files in this folder.")).to_be_visible()
    # One of them spans two chunks.
    files = [payload("small.bin", 300 * 1024), payload("large.bin", 5 * 1024 * 1024)]
    page.get_by_label("Choose files to upload").set_input_files(files)
    for f in files:
        upload = page.locator(f'li[data-upload="from-input/{f["name"]}"]')
        expect(upload).to_have_attribute("data-state", "stored")
        # Progress came from upload.onprogress: it reported every byte as sent.
        expect(upload).to_have_attribute("data-sent", str(len(f["buffer"])))
        expect(upload.get_by_role("progressbar")).to_be_visible()
        expect(file_row(dash, f"from-input/{f['name']}")).to_be_visible()
    found = listed(fabric, "from-input")
    for f in files:
        assert found[f"from-input/{f['name']}"]["sha256"] == hashlib.sha256(f["buffer"]).hexdigest()

    # The same name again: the API's refusal is shown, and overwriting replaces the file.
    # Both the response and the console's "Failed to load resource" line name it.
    dash.allow(r"409.*/api/storage/upload\?path=from-input%2Fsmall\.bin")
    again = payload("small.bin", 1000)
    page.get_by_label("Choose files to upload").set_input_files([again])
    upload = page.locator('li[data-upload="from-input/small.bin"]').last
    expect(upload).to_have_attribute("data-state", "failed")
    expect(upload.locator(".upload-status")).to_contain_text("already exists")
    upload.get_by_role("button", name="Overwrite from-input/small.bin").click()
    expect(upload).to_have_attribute("data-state", "stored")
    digest = hashlib.sha256(again["buffer"]).hexdigest()
    assert listed(fabric, "from-input")["from-input/small.bin"]["sha256"] == digest
    expect(file_row(dash, "from-input/small.bin").locator("code")).to_have_text(digest[:12])


def test_uploads_files_dropped_on_the_zone(fabric: Fabric, dash: Dash) -> None:
    page = dash.page
    dash.goto("/storage/dropped")
    blobs = {"one.txt": os.urandom(4096), "two.txt": os.urandom(70_000)}
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const [name, bytes] of files) {
                dt.items.add(new File([new Uint8Array(bytes)], name));
            }
            return dt;
        }""",
        [[name, list(data)] for name, data in blobs.items()],
    )
    zone = page.locator("[data-drop=files]")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_attribute("data-over", "true")
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    for name in blobs:
        expect(page.locator(f'li[data-upload="dropped/{name}"]')).to_have_attribute(
            "data-state", "stored"
        )
        expect(file_row(dash, f"dropped/{name}")).to_be_visible()
    found = listed(fabric, "dropped")
    for name, data in blobs.items():
        assert found[f"dropped/{name}"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_download_gives_the_exact_bytes(fabric: Fabric, dash: Dash) -> None:
    data = os.urandom(1024 * 1024 + 17)
    put(fabric, "fetch/data.bin", data)
    dash.goto("/storage/fetch")
    with dash.page.expect_download() as info:
        dash.page.get_by_role("link", name="Download data.bin").click()
    download = info.value
    assert download.suggested_filename == "data.bin"
    assert Path(download.path()).read_bytes() == data


def test_delete_asks_first_and_cancel_keeps_the_file(fabric: Fabric, dash: Dash) -> None:
    page = dash.page
    put(fabric, "gone/doomed.txt", b"bye")
    put(fabric, "gone/stays.txt", b"hi")
    dash.goto("/storage/gone")
    row = file_row(dash, "gone/doomed.txt")

    row.get_by_role("button", name="Delete doomed.txt").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("gone/doomed.txt")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(row).to_be_visible()
    assert call(fabric.a, "GET", "/api/storage/gone/doomed.txt").status_code == 200

    row.get_by_role("button", name="Delete doomed.txt").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    expect(row).to_have_count(0)
    expect(file_row(dash, "gone/stays.txt")).to_be_visible()
    assert call(fabric.a, "GET", "/api/storage/gone/doomed.txt").status_code == 404

    # Changes made elsewhere arrive as events: no reload, no polling.
    put(fabric, "gone/late.txt", b"late")
    expect(file_row(dash, "gone/late.txt")).to_be_visible()
    fabric.call("DELETE", "/api/storage/gone/stays.txt")
    expect(file_row(dash, "gone/stays.txt")).to_have_count(0)
    expect(page.locator("[data-summary]")).to_have_attribute("data-files", "1")

    # Through the other member too: its changes reach this node as storage.synced.
    put(fabric, "gone/from-bravo.txt", b"b", on=fabric.b)
    expect(file_row(dash, "gone/from-bravo.txt")).to_be_visible()
    fabric.call("DELETE", "/api/storage/gone/from-bravo.txt", on=fabric.b)
    expect(file_row(dash, "gone/from-bravo.txt")).to_have_count(0)


def test_fits_a_phone_and_both_themes(fabric: Fabric, dash: Dash, browser: Any) -> None:
    put(fabric, "looks/a-rather-long-file-name-for-a-narrow-screen.tar.gz", os.urandom(5000))
    put(fabric, "looks/deeper/nested.txt", b"n")
    phone = open_dash(browser, fabric.a, viewport=PHONE)
    try:
        phone.goto("/storage/looks")
        expect(phone.page.get_by_role("link", name="Open folder deeper")).to_be_visible()
        expect(phone.page.get_by_label("Choose files to upload")).to_be_visible()
        phone.no_horizontal_scroll()
        phone.shot("storage-phone")
        assert not phone.unexpected(), "\n".join(phone.unexpected())
    finally:
        phone.page.context.close()

    dash.goto("/storage/looks")
    expect(dash.page.get_by_role("link", name="Open folder deeper")).to_be_visible()
    for theme in ("light", "dark"):
        while dash.page.locator("#theme").text_content() != f"Theme: {theme}":
            dash.page.locator("#theme").click()
        expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)
        dash.shot(f"storage-{theme}")


def _sees_room_everywhere(agent: AgentProcess) -> bool:
    nodes = call(agent, "GET", "/api/nodes").json()["nodes"]
    return len(nodes) == 3 and all(
        n["state"] == "online" and (n["capabilities"]["storage_free"] or 0) > 0 for n in nodes
    )


def test_a_file_that_lost_a_replica_stands_out(fabric: Fabric, dash: Dash, tmp_path: Path) -> None:
    """A third member stores a file (it keeps one copy, another member the second), then dies:
    alpha sees one online copy of two wanted and announces storage.degraded."""
    url = fabric.ollama_a.url
    with agent_process(tmp_path / "c", "--node-name", "charlie", "--ollama-url", url) as c:
        c_id = call(c, "GET", "/api/status").json()["node_id"]
        try:
            assert join(c, fabric.a).status_code == 200
            for agent in (fabric.a, fabric.b, c):
                wait_until(lambda a=agent: online_count(a) == 3, 30, "three members online")
            # Placement needs the others' free space, which heartbeats bring.
            wait_until(lambda: _sees_room_everywhere(c), 30, "charlie to see room on every node")
            stored = put(fabric, "fragile/lost.bin", os.urandom(10_000), on=c)
            assert c_id in stored["nodes"], stored
            assert len(stored["nodes"]) == 2, (stored, c.log()[-4000:])
            wait_until(lambda: "fragile/lost.bin" in listed(fabric, "fragile"), 15, "the manifest")

            dash.goto("/storage/fragile")
            row = file_row(dash, "fragile/lost.bin")
            expect(row).to_have_attribute("data-health", "healthy")
            expect(row.locator(".holders")).to_contain_text("charlie")

            c.process.kill()
            c.process.wait(10)
            # No reload: the page re-lists on alpha's storage.degraded.
            expect(row).to_have_attribute("data-health", "degraded", timeout=30_000)
            expect(row.locator(".badge")).to_have_text("degraded")
            expect(dash.page.locator("[data-summary]")).to_have_attribute("data-degraded", "1")
            expect(dash.page.locator("[data-summary]")).to_contain_text("1 degraded")
            dash.shot("storage-degraded")
        finally:
            # The other members must not keep waiting for it.
            call(fabric.a, "DELETE", f"/api/nodes/{c_id}")
