"""The dashboard in a real headless Chromium against a real agent (uvicorn on a free port).

Needs the `playwright` Python package and Debian's Chromium at /usr/bin/chromium (playwright's
own browser download is not used). Every wait is a bounded browser-side condition.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import LiveAgent

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
if CHROMIUM is None:
    pytest.skip("Chromium not installed (apt-get install -y chromium)", allow_module_level=True)
async_api = pytest.importorskip(
    "playwright.async_api", reason="playwright not installed (pip install playwright)"
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PERCENT = re.compile(r"^\d+(\.\d)?%$")
SIZE_PAIR = re.compile(r"^\d+(\.\d)? (B|KiB|MiB|GiB|TiB|PiB) / \d+(\.\d)? (B|KiB|MiB|GiB|TiB|PiB)$")


@pytest.fixture
async def browser() -> AsyncIterator[async_api.Browser]:
    async with async_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught exceptions of the `page`, in order."""
    return []


@pytest.fixture
async def page(
    live: LiveAgent, browser: async_api.Browser, console_errors: list[str]
) -> AsyncIterator[async_api.Page]:
    """A fresh page (no cookies), closed before the agent stops."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    def on_console(msg: async_api.ConsoleMessage) -> None:
        if msg.type == "error":
            console_errors.append(f"{msg.text} ({msg.location.get('url', '?')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console_errors.append(f"uncaught: {exc}"))
    try:
        yield page
    finally:
        await context.close()


async def login_url(live: LiveAgent) -> str:
    """A fresh single-use login link, as `openfabric dashboard` opens it."""
    async with live.client() as client:
        response = await client.post("/api/auth/login-code")
    assert response.status_code == 200, response.text
    return f"{live.url}{response.json()['login_path']}"


async def sign_in(page: async_api.Page, live: LiveAgent) -> None:
    url = await login_url(live)
    response = await page.goto(url)
    assert response is not None
    assert response.ok
    assert page.url == f"{live.url}/", "the login link should redirect to / (code leaves the URL)"
    assert response.request.redirected_from is not None
    assert response.request.redirected_from.url == url
    # The dashboard runs under its strict CSP; a violation would show in console_errors.
    assert "script-src 'self'" in (await response.all_headers())["content-security-policy"]
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies[f"openfabric_session_{live.settings.port}"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["value"] != live.token


async def wait_for_sse_updates(page: async_api.Page, count: int) -> None:
    """`data-updates` on the CPU figure counts node.telemetry events rendered from the stream."""
    # A function, not an expression: playwright evals expressions in the page, which the
    # dashboard's CSP (no 'unsafe-eval') rightly refuses.
    await page.wait_for_function(
        "(count) => Number(document.getElementById('cpu-total').dataset.updates) >= count",
        arg=count,
        timeout=TIMEOUT_MS,
    )


async def test_signed_in_page_shows_node_and_live_cpu(
    page: async_api.Page, live: LiveAgent, console_errors: list[str]
) -> None:
    expect = async_api.expect
    async with live.client() as client:
        status = (await client.get("/api/status")).json()

    await sign_in(page, live)

    await expect(page.locator("#node-name")).to_have_text(status["node_name"])
    await expect(page.locator("#version")).to_have_text(f"v{status['version']}")
    await expect(page.locator("#sum-nodes")).to_have_text("1 / 1")
    await expect(page.locator("#sum-ram")).to_have_text(SIZE_PAIR)
    await expect(page.locator("#sum-disk")).to_have_text(SIZE_PAIR)
    await expect(page.locator("#health")).to_have_text(re.compile(r"^(Healthy|Degraded)$"))
    await expect(page.locator("#nodes tr")).to_have_count(1)
    row = page.locator(f'#nodes tr[data-node-id="{status["node_id"]}"]')
    await expect(row.locator(".name")).to_contain_text(status["node_name"])
    await expect(row.locator(".state")).to_have_text("online")
    await expect(page.locator("#signin")).to_be_hidden()

    # The CPU figure is rewritten by each node.telemetry SSE event; wait for two of them.
    await wait_for_sse_updates(page, 2)
    await expect(page.locator("#cpu-total")).to_have_text(PERCENT)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(page.locator("#conn-text")).to_have_text("Live")
    await expect(page.locator("#conn")).to_have_attribute("aria-live", "polite")
    cores = await page.locator("#cores .core").count()
    assert cores >= 1
    await expect(page.locator("#mem-pct")).to_have_text(PERCENT)
    await expect(page.locator("#mem-detail")).to_contain_text(" of ")

    assert console_errors == []


async def test_without_token_shows_sign_in_panel(
    page: async_api.Page, live: LiveAgent, console_errors: list[str]
) -> None:
    expect = async_api.expect
    await page.goto(f"{live.url}/")
    panel = page.locator("#signin")
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("Not signed in")
    await expect(panel).to_contain_text("openfabric dashboard")
    await expect(page.locator("#content")).to_be_hidden()
    await expect(page.locator("#conn-text")).to_have_text("Signed out")
    # The 401s show in the console as failed loads, but nothing in the page may throw.
    assert [e for e in console_errors if e.startswith("uncaught")] == []

    # Signing in elsewhere in this browser (the cookie is shared) brings the page back by itself.
    login = await page.context.request.get(await login_url(live))
    assert login.ok
    # The page re-checks every 5 s; expect()'s own default timeout is only 5 s.
    await expect(page.locator("#content")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(panel).to_be_hidden()
    await wait_for_sse_updates(page, 1)


async def test_screenshot_is_a_png(
    page: async_api.Page, live: LiveAgent, console_errors: list[str], tmp_path: Path
) -> None:
    await sign_in(page, live)
    await wait_for_sse_updates(page, 2)
    shot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000
    assert console_errors == []


async def test_sign_out_ends_the_session(
    page: async_api.Page, live: LiveAgent, console_errors: list[str]
) -> None:
    expect = async_api.expect
    await sign_in(page, live)
    await expect(page.locator("#content")).to_be_visible()
    name = f"openfabric_session_{live.settings.port}"
    secret = {c["name"]: c["value"] for c in await page.context.cookies()}[name]
    await page.locator("#signout").click()
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#signout")).to_be_hidden()
    assert name not in {c["name"] for c in await page.context.cookies()}
    # The agent forgot the session: a copy of the cookie taken before is refused.
    async with live.client(headers={"Authorization": "", "Cookie": f"{name}={secret}"}) as c:
        assert (await c.get("/api/status")).status_code == 401
    assert [e for e in console_errors if e.startswith("uncaught")] == []
