"""The dashboard's frame in a real browser against one agent: sign-in and sign-out, routing
(deep links, back and forward, unknown pages), the one event stream and its reconnecting
state, themes, keyboard use and phone width."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import PHONE, Dash, expect, login_url, open_dash, watch
from tests.harness import AgentProcess, agent_process

NAV = [
    "Overview",
    "Tasks",
    "Storage",
    "Brain",
    "Memory",
    "Flows",
    "Tools",
    "Models & chat",
    "Cluster",
    "Health",
]


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("lone") / "home", "--node-name", "solo") as agent:
        yield agent


@pytest.fixture
def page(browser: Any, lone: AgentProcess) -> Iterator[Dash]:
    dash = open_dash(browser, lone)
    try:
        yield dash
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())


def event_streams(dash: Dash) -> list[Any]:
    """Requests of the app's event stream (not the short replays that end at once)."""
    return [
        r
        for r in dash.requests
        if r.url.split("?")[0].endswith("/api/events") and "last_event_id" not in r.url
    ]


def test_signed_out_shows_the_sign_in_panel_then_signs_in_by_itself(
    browser: Any, lone: AgentProcess
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        problems: list[str] = []
        watch(page, problems)
        page.goto(lone.url + "/tasks")
        panel = page.locator("#signin")
        expect(panel).to_be_visible()
        expect(panel).to_contain_text("openfabric dashboard")
        expect(page.locator("#view")).to_be_hidden()
        expect(page.locator("#conn-text")).to_have_text("Signed out")
        # Only the 401s of the API calls (and the console's note of them); nothing may throw.
        assert problems
        assert all("401" in p for p in problems), problems
        # Signing in elsewhere in this browser (the shared cookie) brings the page back.
        assert context.request.get(login_url(lone)).ok
        expect(page.locator("#view")).to_be_visible()
        expect(panel).to_be_hidden()
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        assert page.url == lone.url + "/tasks", "the deep link survives signing in"
    finally:
        context.close()


def test_sign_out_ends_the_session(page: Dash, lone: AgentProcess) -> None:
    p = page.page
    name = f"openfabric_session_{lone.info['url'].rsplit(':', 1)[1]}"
    cookies = {c["name"]: c for c in p.context.cookies()}
    assert cookies[name]["httpOnly"] is True
    assert cookies[name]["sameSite"] == "Strict"
    secret = cookies[name]["value"]
    # After signing out, anything still asking is refused: the answer and the console note.
    page.allow(r"HTTP 401|status of 401")
    p.locator("#signout").click()
    expect(p.locator("#signin")).to_be_visible()
    expect(p.locator("#signout")).to_be_hidden()
    assert name not in {c["name"] for c in p.context.cookies()}
    copied = httpx.get(lone.url + "/api/status", headers={"Cookie": f"{name}={secret}"})
    assert copied.status_code == 401


def test_navigation_deep_links_back_and_forward(page: Dash, lone: AgentProcess) -> None:
    p = page.page
    expect(p.locator("#nav-list a")).to_have_text(NAV)
    page.goto("/tasks")
    expect(p.locator("#conn")).to_have_attribute("data-state", "live")
    streams = len(event_streams(page))
    expect(p.locator("#nav-list a[aria-current=page]")).to_have_text("Tasks")
    expect(p).to_have_title("Tasks · solo · OpenFabric")
    p.get_by_role("link", name="Storage").click()
    expect(p).to_have_url(lone.url + "/storage")
    expect(p.locator("#view")).to_have_attribute("data-page", "storage")
    p.go_back()
    expect(p).to_have_url(lone.url + "/tasks")
    expect(p.locator("#view")).to_have_attribute("data-page", "tasks")
    p.go_forward()
    expect(p.locator("#view")).to_have_attribute("data-page", "storage")
    # After a navigation the new page's heading has the focus, for screen readers.
    expect(p.locator("#view .page-title")).to_be_focused()
    # One stream for the whole app: every in-app navigation kept the same connection.
    assert len(event_streams(page)) == streams
    page.goto("/no/such/page")
    expect(p.locator("#view .page-title")).to_have_text("Page not found")


def test_a_silent_stream_shows_reconnecting_and_resumes(page: Dash, lone: AgentProcess) -> None:
    """A frozen agent (as after a laptop's sleep) leaves the stream open but silent: the page
    notices, says so, and resumes with Last-Event-ID once the agent answers again."""
    p = page.page
    expect(p.locator("#conn")).to_have_attribute("data-state", "live")
    # An event must have arrived first, or there is nothing to resume after: this node's card
    # shows the time of the sample it was drawn from, so wait for a newer one.
    card = p.locator(".topo-card[data-ts]").first
    expect(card).to_be_visible()
    first = card.get_attribute("data-ts")
    expect(card).not_to_have_attribute("data-ts", first or "")
    before = len(event_streams(page))
    page.allow(r"request failed: GET .*/api/events")
    lone.process.send_signal(signal.SIGSTOP)
    try:
        # The page waits three times the longest silence it has seen (at least 5 s).
        expect(p.locator("#conn")).to_have_attribute("data-state", "reconnecting", timeout=45_000)
        expect(p.locator("#conn-text")).to_have_text("Reconnecting…")
    finally:
        lone.process.send_signal(signal.SIGCONT)
    expect(p.locator("#conn")).to_have_attribute("data-state", "live", timeout=30_000)
    streams = event_streams(page)
    assert len(streams) > before
    # The browser resumes where it left off: the agent replays what it missed.
    resumed = streams[-1].headers.get("last-event-id")
    assert resumed is not None
    assert int(resumed) > 0


def test_themes_switch_and_persist(page: Dash) -> None:
    p = page.page
    theme = p.locator("#theme")
    expect(theme).to_have_text("Theme: auto")
    theme.click()
    expect(p.locator("html")).to_have_attribute("data-theme", "light")
    theme.click()
    expect(p.locator("html")).to_have_attribute("data-theme", "dark")
    background = p.evaluate("() => getComputedStyle(document.body).backgroundColor")
    p.reload()
    expect(p.locator("html")).to_have_attribute("data-theme", "dark")
    assert p.evaluate("() => getComputedStyle(document.body).backgroundColor") == background
    expect(theme).to_have_text("Theme: dark")


def test_keyboard_reaches_every_page(page: Dash, lone: AgentProcess) -> None:
    p = page.page
    p.keyboard.press("Tab")
    expect(p.locator(".skip")).to_be_focused()
    for _ in range(5):
        p.keyboard.press("Tab")
        if p.evaluate("() => document.activeElement.closest('#nav-list') !== null"):
            break
    link = p.locator("#nav-list a:focus")
    expect(link).to_have_count(1)
    while p.evaluate("() => document.activeElement.textContent") != "Cluster":
        p.keyboard.press("Tab")
    p.keyboard.press("Enter")
    expect(p).to_have_url(lone.url + "/cluster")
    # Every control on the frame has an accessible name.
    for button in p.locator("header button:visible").all():
        assert (button.get_attribute("aria-label") or button.inner_text()).strip()


def test_phone_width_has_a_menu_and_no_horizontal_scroll(
    browser: Any, lone: AgentProcess, tmp_path: Path
) -> None:
    dash = open_dash(browser, lone, viewport=PHONE)
    try:
        p = dash.page
        toggle = p.locator("#nav-toggle")
        expect(toggle).to_be_visible()
        expect(p.locator("#nav")).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        p.get_by_role("link", name="Health").click()
        expect(p).to_have_url(lone.url + "/health")
        expect(p.locator("#nav")).to_be_hidden()
        dash.no_horizontal_scroll()
        dash.shot("frame-phone")
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())
