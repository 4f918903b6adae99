"""Real headless Chromium (Debian's, through playwright) against real agents.

`fabric`: two agent subprocesses joined in one cluster, each with its own Ollama double (A
holds `MODEL_A`, B holds `MODEL_B`); one per test file. `dash`: a fresh browser context signed
in on A through the login link, as `openfabric dashboard` opens it. When the test ends it
fails on any console error, uncaught exception or failed request the page had, unless the
test declared that failure expected (`dash.allow(...)`).

Screenshots (`dash.shot(name)`) go to `$OPENFABRIC_ARTIFACTS` (default `build/artifacts`),
which is not committed. Every wait is a bounded browser-side condition.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api

from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import REPO, AgentProcess, agent_process, call, form_cluster

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
Page = sync_api.Page
expect = sync_api.expect

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
MODEL_A = "llama3.2:3b"
MODEL_B = "qwen2.5:0.5b"
REPLY = "The fabric answers from the double."
ARTIFACTS = Path(os.environ.get("OPENFABRIC_ARTIFACTS", REPO / "build" / "artifacts"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class Fabric:
    a: AgentProcess
    b: AgentProcess
    ollama_a: FakeOllamaProcess
    ollama_b: FakeOllamaProcess

    def call(self, method: str, path: str, on: AgentProcess | None = None, **kw: Any) -> Any:
        response = call(on or self.a, method, path, **kw)
        assert response.status_code < 400, response.text
        return response.json()


@pytest.fixture(scope="module")
def fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fabric]:
    root = tmp_path_factory.mktemp("fabric")
    fake_a = FakeOllama(models=[MODEL_A], reply_text=REPLY)
    fake_b = FakeOllama(models=[MODEL_B], reply_text=REPLY)
    with (
        fake_ollama_process(root / "ollama-a.json", fake_a) as ollama_a,
        fake_ollama_process(root / "ollama-b.json", fake_b) as ollama_b,
        agent_process(root / "a", "--node-name", "alpha", "--ollama-url", ollama_a.url) as a,
        agent_process(root / "b", "--node-name", "bravo", "--ollama-url", ollama_b.url) as b,
    ):
        form_cluster([a, b])
        yield Fabric(a, b, ollama_a, ollama_b)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Chromium not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Dash:
    """A signed-in page plus what went wrong on it."""

    page: Any
    agent: AgentProcess
    problems: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.agent.url + path)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"dashboard-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def allow(self, pattern: str) -> None:
        """A problem matching `pattern` (a regex) is expected and does not fail the test."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a.search(p) for a in self.allowed)]

    def __post_init__(self) -> None:
        # A failing health check answers 503 with its report, which the pages show: an
        # answer, not a failed request (Chromium still logs it).
        self.allow(r"HTTP 503: GET \S+/api/health$")
        self.allow(r"status of 503 .*\(\S+/api/health\)$")

    def no_horizontal_scroll(self) -> None:
        widths = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        if widths[0] > widths[1]:
            # Name the elements that stick out, so a failure says where to look.
            culprits = self.page.evaluate(
                """(limit) => [...document.querySelectorAll("body *")]
                  .filter((el) => el.getBoundingClientRect().right > limit + 1)
                  .slice(0, 8)
                  .map((el) => `${el.tagName.toLowerCase()}.${el.className}`
                    + ` (${Math.round(el.getBoundingClientRect().right)} px)`)""",
                widths[1],
            )
            raise AssertionError(
                f"page is {widths[0]} px wide in a {widths[1]} px window: {culprits}"
            )


def login_url(agent: AgentProcess) -> str:
    """A fresh single-use login link, as `openfabric dashboard` opens it."""
    response = httpx.post(agent.url + "/api/auth/login-code", headers=agent.headers(), timeout=10)
    assert response.status_code == 200, response.text
    return f"{agent.url}{response.json()['login_path']}"


def watch(page: Any, problems: list[str]) -> None:
    def on_console(msg: Any) -> None:
        if msg.type == "error":
            problems.append(f"console: {msg.text} ({msg.location.get('url', '?')})")

    def on_failed(request: Any) -> None:
        # Streams closed on purpose (leaving a page, a finished replay) are not failures.
        if "ERR_ABORTED" not in (request.failure or ""):
            problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)


def open_dash(browser: Any, agent: AgentProcess, viewport: dict[str, int] = DESKTOP) -> Dash:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    dash = Dash(page, agent)
    watch(page, dash.problems)
    page.on("request", lambda request: dash.requests.append(request))
    page.goto(login_url(agent))
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    return dash


@pytest.fixture
def dash(browser: Any, fabric: Fabric) -> Iterator[Dash]:
    """Signed in on agent A at desktop size; fails the test on any unexpected problem."""
    dash = open_dash(browser, fabric.a)
    try:
        yield dash
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())
