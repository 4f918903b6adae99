"""Pulse's cards on the overview in a real Chromium against real agents whose rules are all
off but "node offline" (at once, critical): "All clear" first, then a member that stops
raises a card the page shows live (severity, title, what, why, node, since, action), which
Dismiss hides; the weekly digest behind its disclosure; the phone width."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dash, expect, open_dash
from tests.harness import AgentProcess, agent_process, call, join, online_count, wait_until
from tests.pulse_rules import rules_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OFFLINE_RULE = "node_offline"
# Offline after ~6 s of silence (the default); the margin covers a loaded machine.
OFFLINE_WITHIN_MS = 30_000
OFFLINE_AT_ONCE = {"id": OFFLINE_RULE, "for": 0, "critical": {"raise": 1, "clear": 0}}


@dataclass
class Pulse:
    agent: AgentProcess
    env: dict[str, str]
    root: Path

    def insights(self, dismissed: bool = False) -> list[dict[str, Any]]:
        params = {"include_dismissed": "true"} if dismissed else {}
        response = call(self.agent, "GET", "/api/pulse/insights", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["insights"]
        return found


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pulse]:
    root = tmp_path_factory.mktemp("pulse")
    rules = rules_file(root, OFFLINE_AT_ONCE)
    env = {"OPENFABRIC_PULSE_INTERVAL": "0.2", "OPENFABRIC_PULSE_RULES": str(rules)}
    with agent_process(root / "a", "--node-name", "alpha", env=env) as agent:
        yield Pulse(agent, env, root)


@pytest.fixture
def dash(browser: Any, pulse: Pulse) -> Iterator[Dash]:
    dash = open_dash(browser, pulse.agent)
    try:
        yield dash
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())


def set_theme(dash: Dash, theme: str) -> None:
    button = dash.page.locator("#theme")
    for _ in range(3):
        if button.inner_text() == f"Theme: {theme}":
            break
        button.click()
    expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)


def css_var(dash: Dash, name: str) -> str:
    colour: str = dash.page.evaluate(
        """(name) => {
          const probe = document.createElement("span");
          probe.style.color = getComputedStyle(document.documentElement).getPropertyValue(name);
          document.body.append(probe);
          const value = getComputedStyle(probe).color;
          probe.remove();
          return value;
        }""",
        name,
    )
    return colour


def test_all_clear_then_a_card_live_then_dismissed(dash: Dash, pulse: Pulse) -> None:
    page = dash.page
    dash.goto("/")
    panel = page.locator("section.pulse")
    expect(panel).to_have_attribute("data-pulse", "clear")
    expect(panel.locator(".pulse-clear")).to_have_text("All clear: nothing needs attention.")
    expect(panel.locator(".pulse-card")).to_have_count(0)
    page.evaluate("() => { window.sameDocument = true; }")

    with agent_process(pulse.root / "b", "--node-name", "bravo", env=pulse.env) as bravo:
        assert join(bravo, pulse.agent).status_code == 200, bravo.log()
        wait_until(lambda: online_count(pulse.agent) == 2, 20, "bravo to be online")
        bravo_id = bravo.info["node_id"]
    card = panel.locator(f'.pulse-card[data-rule="{OFFLINE_RULE}"]')
    expect(card).to_have_count(1, timeout=OFFLINE_WITHIN_MS)
    (insight,) = [c for c in pulse.insights() if c["rule"] == OFFLINE_RULE]
    assert insight["node_id"] == bravo_id
    expect(card).to_have_attribute("data-insight-id", insight["id"])
    expect(card).to_have_attribute("data-severity", "critical")
    expect(card.locator(".badge")).to_have_text("critical")
    expect(card.locator(".pulse-title")).to_have_text("Node offline")
    expect(card.locator(".pulse-what")).to_have_text(insight["what"])
    expect(card.locator(".pulse-what")).to_contain_text("bravo has been offline")
    expect(card.locator(".pulse-why")).to_have_text(insight["why"])
    expect(card.locator(".pulse-action")).to_have_text(f"Suggested: {insight['action']}")
    expect(card.locator(".pulse-node")).to_have_text("bravo")
    expect(card.locator(".pulse-since")).to_have_text(re.compile(r"^(just now|\d+s ago)$"))
    expect(panel).to_have_attribute("data-pulse", "active")
    expect(panel.locator(".pulse-clear")).to_be_hidden()
    expect(panel.locator(".pulse-count")).to_have_text("1 insight · 1 critical")
    colour = card.evaluate("(el) => getComputedStyle(el).borderLeftColor")
    assert colour == css_var(dash, "--bad")
    assert page.evaluate("() => window.sameDocument") is True
    for theme in ("light", "dark"):
        set_theme(dash, theme)
        dash.shot(f"pulse-{theme}")
    page.set_viewport_size(PHONE)
    expect(card).to_be_visible()
    dash.no_horizontal_scroll()
    dash.shot("pulse-phone")

    card.get_by_role("button", name="Dismiss: Node offline").click()
    expect(card).to_have_count(0)
    expect(panel.locator(".pulse-clear")).to_be_visible()
    assert [c["id"] for c in pulse.insights()] == []
    kept = [c for c in pulse.insights(dismissed=True) if c["id"] == insight["id"]]
    assert [c["dismissed"] for c in kept] == [True]
    # Dismissed stays dismissed across a reload.
    page.reload()
    expect(panel).to_have_attribute("data-pulse", "clear")


def test_weekly_digest_behind_its_disclosure(dash: Dash, pulse: Pulse) -> None:
    page = dash.page
    dash.goto("/")
    weekly = page.locator(".pulse-weekly")
    expect(weekly.locator(".pulse-weekly-body")).to_be_hidden()
    assert not [r for r in dash.requests if r.url.endswith("/api/pulse/weekly")]
    weekly.get_by_text("This week").click()
    digest = call(pulse.agent, "GET", "/api/pulse/weekly").json()
    expect(weekly.locator('[data-weekly="tasks"] dd')).to_have_text(
        re.compile(r"^\d+ runs? · \d+ failed$")
    )
    expect(weekly.locator('[data-weekly="storage"] dd')).to_have_text(re.compile("^[+\u2212]\\d"))
    tokens = sum(t["tokens"] for t in digest["tokens"])
    expect(weekly.locator('[data-weekly="tokens"] dd')).to_have_text(f"{tokens:,}")
    alpha = pulse.agent.info["node_id"]
    row = weekly.locator(f'.pulse-uptime li[data-node="{alpha}"]')
    expect(row).to_contain_text("alpha")
    expect(row.locator(".pulse-uptime-value")).to_have_text(re.compile(r"^\d+\.\d% · .+ online$"))
    page.set_viewport_size(PHONE)
    dash.no_horizontal_scroll()
    dash.shot("pulse-weekly-phone")
