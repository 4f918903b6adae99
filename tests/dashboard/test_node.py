"""A node's page against a real two-member cluster: facts as /api/nodes/{id} answers them,
charts from the node's history (another member's asked of it), deep links,
back/forward, an unknown id, the phone layout and both themes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dash, Fabric, expect, open_dash
from tests.dashboard.node_formats import fmt_bytes
from tests.harness import AgentProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHARTS = ("cpu", "memory", "storage", "disk_io", "network")
PERCENT = re.compile(r"^\d+\.\d%$")


def node_of(fabric: Fabric, agent: AgentProcess) -> dict[str, Any]:
    node: dict[str, Any] = fabric.call("GET", f"/api/nodes/{agent.info['node_id']}")
    return node


def points(dash: Dash, chart: str) -> int:
    value = dash.page.locator(f'[data-chart="{chart}"]').get_attribute("data-points")
    return int(value or 0)


def wait_for_points(dash: Dash, chart: str, more_than: int) -> None:
    dash.page.wait_for_function(
        """([chart, n]) => Number(document.querySelector(
            `[data-chart="${chart}"]`)?.dataset.points) > n""",
        arg=[chart, more_than],
    )


def expect_facts(dash: Dash, node: dict[str, Any]) -> None:
    page, sample = dash.page, node["telemetry"]
    system, cpu = sample["system"], sample["cpu"]
    expect(page.locator("#view h1")).to_have_text(node["name"])
    fact = lambda key: page.locator(f'dd[data-fact="{key}"]')  # noqa: E731
    expect(fact("hostname")).to_have_text(system["hostname"])
    expect(fact("os")).to_have_text(system["os_pretty"] or system["os"])
    expect(fact("arch")).to_have_text(system["arch"])
    expect(fact("agent_version")).to_have_text(system["agent_version"])
    expect(fact("cores")).to_have_text(str(cpu["count_logical"]))
    expect(fact("ram_total")).to_have_text(fmt_bytes(sample["memory"]["total"]))
    expect(fact("node_id")).to_have_text(node["node_id"])
    expect(fact("fingerprint")).to_have_text(node["fingerprint"])
    expect(fact("addresses")).to_have_text(", ".join(node["addresses"]))
    expect(fact("peer_port")).to_have_text(str(node["peer_port"]))
    expect(fact("version")).to_have_text(node["version"])
    expect(fact("uptime")).not_to_have_text("—")
    mounts = [d["mountpoint"] for d in sample["disks"]]
    for mount in mounts:
        expect(page.locator(f'tr[data-row="{mount}"]').first).to_be_visible()
    for nic in sample["network"]:
        expect(page.locator(f'tr[data-row="{nic["name"]}"]').first).to_be_visible()
    expect(page.locator('[data-field="state"]')).to_have_attribute("data-state", "online")
    expect(page.locator('.node-gauges [data-field="cpu"]')).to_have_text(PERCENT)
    total = re.escape(fmt_bytes(sample["memory"]["total"]))
    memory = re.compile(rf"^\d+(\.\d)? \S+ / {total}$")
    expect(page.locator('.node-gauges [data-field="memory"]')).to_have_text(memory)


def test_this_node_shows_facts_and_charts_from_its_history(dash: Dash, fabric: Fabric) -> None:
    node = node_of(fabric, fabric.a)
    dash.goto(f"/nodes/{node['node_id']}")
    expect_facts(dash, node)
    expect(dash.page.locator('[data-field="history"]')).to_contain_text("from this node's history")
    history = fabric.call("GET", f"/api/nodes/{node['node_id']}/telemetry", params={"seconds": 30})
    assert history["count"] >= 2
    for chart in CHARTS:
        box = dash.page.locator(f'[data-chart="{chart}"]')
        expect(box.locator("canvas")).to_have_count(1)
        # The history came in at once: several points before the first live one.
        wait_for_points(dash, chart, 1)
    loaded = points(dash, "cpu")
    wait_for_points(dash, "cpu", loaded + 2)
    assert points(dash, "network") > loaded


def test_another_member_deep_link_charts_start_from_its_history(dash: Dash, fabric: Fabric) -> None:
    node = node_of(fabric, fabric.b)
    history = fabric.call("GET", f"/api/nodes/{node['node_id']}/telemetry")
    assert history["count"] >= 5
    dash.goto(f"/nodes/{node['node_id']}")
    expect_facts(dash, node)
    note = dash.page.locator('[data-field="history"]')
    # Asked of bravo by alpha over the peer channel, then continued from its heartbeats.
    expect(note).to_contain_text("from bravo's history, then live")
    expect(dash.page.locator('[data-chart="cpu"] canvas')).to_have_count(1)
    wait_for_points(dash, "cpu", 5)
    loaded = points(dash, "cpu")
    wait_for_points(dash, "cpu", loaded + 2)
    expect(dash.page.locator('[aria-current="page"]')).to_have_attribute("data-page", "overview")


def test_unknown_node_says_so(dash: Dash) -> None:
    # The page asks the API, which answers 404: expected here.
    dash.allow(r"404.*/api/nodes/no-such-node")
    dash.goto("/nodes/no-such-node")
    panel = dash.page.locator("[data-missing]")
    expect(panel).to_contain_text("No such node")
    expect(panel).to_contain_text("no-such-node")
    expect(panel.get_by_role("link", name="Back to the overview")).to_have_attribute("href", "/")


def test_back_and_forward_between_overview_and_a_node(dash: Dash, fabric: Fabric) -> None:
    bravo = fabric.b.info["node_id"]
    dash.goto("/")
    page = dash.page
    page.locator(f'.topo-card[data-node-id="{bravo}"]').get_by_role("link", name="bravo").click()
    expect(page).to_have_url(f"{fabric.a.url}/nodes/{bravo}")
    expect(page.locator("#view h1")).to_have_text("bravo")
    expect(page.locator('[data-chart="cpu"] canvas')).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(f"{fabric.a.url}/")
    expect(page.locator(".topo-card")).to_have_count(2)
    page.go_forward()
    expect(page.locator("#view h1")).to_have_text("bravo")
    expect(page.locator('dd[data-fact="node_id"]')).to_have_text(bravo)


def test_node_pages_fit_a_phone_and_have_both_themes(
    browser: Any, dash: Dash, fabric: Fabric
) -> None:
    phone = open_dash(browser, fabric.a, viewport=PHONE)
    try:
        for agent, name in ((fabric.a, "node-phone"), (fabric.b, "node-remote-phone")):
            phone.goto(f"/nodes/{agent.info['node_id']}")
            expect(phone.page.locator('[data-chart="cpu"] canvas')).to_have_count(1)
            expect(phone.page.locator('dd[data-fact="hostname"]')).not_to_have_text("—")
            wait_for_points(phone, "cpu", 2)
            phone.no_horizontal_scroll()
            phone.shot(name)
        assert not phone.unexpected(), "\n".join(phone.unexpected())
    finally:
        phone.page.context.close()

    dash.goto(f"/nodes/{fabric.a.info['node_id']}")
    expect(dash.page.locator('[data-chart="cpu"] canvas')).to_have_count(1)
    dash.no_horizontal_scroll()
    theme = dash.page.locator("#theme")
    for name in ("light", "dark"):
        theme.click()
        expect(dash.page.locator("html")).to_have_attribute("data-theme", name)
        # The charts are drawn again in the theme's colours.
        expect(dash.page.locator('[data-chart="cpu"] canvas')).to_have_count(1)
        assert dash.shot(f"node-{name}").stat().st_size > 10_000
