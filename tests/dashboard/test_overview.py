"""The overview page against a real two-member cluster (alpha, bravo), plus a third member
started, killed and evicted in a test: cards, links, totals, health and events, all live."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dash, Fabric, expect, open_dash
from tests.dashboard.node_formats import fmt_bytes, fmt_pct, plural
from tests.harness import AgentProcess, agent_process, call, join

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PERCENT = re.compile(r"^\d+\.\d%$")
# suspect_after is 3 s and offline_after 6 s (defaults); the margin covers a loaded machine.
OFFLINE_WITHIN_MS = 6_000 + 9_000


CLOCK = re.compile(r"^\d{2}:\d{2}:\d{2}$")


def ends_with(total: str) -> re.Pattern[str]:
    """A "used / total" figure with this total."""
    return re.compile(rf"^\d+(\.\d)? \S+ / {re.escape(total)}$")


def card(dash: Dash, node_id: str) -> Any:
    return dash.page.locator(f'.topo-card[data-node-id="{node_id}"]')


def nodes_by_name(fabric: Fabric) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in fabric.call("GET", "/api/nodes")["nodes"]}


def wait_for_state(dash: Dash, node_id: str, state: str, timeout: float) -> None:
    dash.page.wait_for_function(
        """([id, state]) => document.querySelector(
            `.topo-card[data-node-id="${id}"] [data-field="state"]`)?.dataset.state === state""",
        arg=[node_id, state],
        timeout=timeout,
    )


def test_cards_links_and_totals_show_the_cluster(dash: Dash, fabric: Fabric) -> None:
    dash.goto("/")
    nodes = nodes_by_name(fabric)
    alpha, bravo = nodes["alpha"], nodes["bravo"]
    expect(dash.page.locator(".topo-card")).to_have_count(2)

    for node in (alpha, bravo):
        el = card(dash, node["node_id"])
        link = el.get_by_role("link", name=node["name"])
        expect(link).to_have_attribute("href", f"/nodes/{node['node_id']}")
        expect(el.locator('[data-field="state"]')).to_have_attribute("data-state", "online")
        expect(el.locator('[data-field="cpu"]')).to_have_text(PERCENT)
        memory_total = fmt_bytes(node["telemetry"]["memory"]["total"])
        expect(el.locator('[data-field="ram"]')).to_have_text(
            re.compile(rf" / {re.escape(memory_total)}$")
        )
        disk_total = fmt_bytes(node["telemetry"]["storage"]["total"])
        expect(el.locator('[data-field="disk"]')).to_have_text(
            re.compile(rf" / {re.escape(disk_total)}$")
        )
        cores = node["telemetry"]["cpu"]["count_logical"]
        expect(el.locator('[data-field="cores"]')).to_have_text(plural(cores, "core"))
        gpus = len(node["telemetry"]["gpus"])
        expect(el.locator('[data-field="gpus"]')).to_have_text(plural(gpus, "GPU"))
    expect(card(dash, alpha["node_id"]).locator('[data-field="self"]')).to_have_text("this node")
    expect(card(dash, bravo["node_id"]).locator('[data-field="self"]')).to_have_count(0)

    # One link per remote member, drawn from this node's card to the member's.
    links = dash.page.locator("svg.topo-links [data-link]")
    expect(links).to_have_count(1)
    expect(links.first).to_have_attribute("data-link", bravo["node_id"])
    expect(links.first).to_have_attribute("data-state", "online")
    line = links.first.locator("line")
    expect(line).to_have_attribute("y2", re.compile(r"^\d+(\.\d)?$"))
    assert float(line.get_attribute("y2") or 0) > float(line.get_attribute("y1") or 0)

    status = fabric.call("GET", "/api/status")
    expect(dash.page.locator('[data-total="nodes"]')).to_have_text("2 / 2")
    expect(dash.page.locator('[data-total="cpu"]')).to_have_text(str(status["cpu_cores"]))
    ram = ends_with(fmt_bytes(status["ram"]["total"]))
    expect(dash.page.locator('[data-total="ram"]')).to_have_text(ram)
    storage = ends_with(fmt_bytes(status["storage"]["total"]))
    expect(dash.page.locator('[data-total="storage"]')).to_have_text(storage)
    expect(dash.page.locator('[data-total="gpu"]')).to_have_text(str(status["gpu_count"]))

    checks = fabric.call("GET", "/api/health")["checks"]
    health = dash.page.locator("[data-health]")
    expect(health).to_have_attribute("data-health", re.compile(r"^(healthy|degraded)$"))
    expect(health).to_contain_text(plural(len(checks), "check"))


READ_CARDS = """(ids) => ids.map((id) => {
    const el = document.querySelector(`.topo-card[data-node-id="${id}"]`);
    return el && [Number(el.dataset.ts), el.querySelector('[data-field="cpu"]').textContent];
})"""


def sample_cpu(agent: AgentProcess, ts: float) -> str:
    """What the page must show for the agent's own sample taken at `ts`."""
    node_id = agent.info["node_id"]
    history = call(agent, "GET", f"/api/nodes/{node_id}/telemetry").json()["samples"]
    found = [s for s in history if s["ts"] == ts]
    assert found, f"no sample of {node_id} at {ts}"
    return fmt_pct(found[0]["cpu"]["percent"])


def test_cpu_of_both_members_follows_their_samples_without_rebuilding_cards(
    dash: Dash, fabric: Fabric
) -> None:
    dash.goto("/")
    agents = [fabric.a, fabric.b]
    ids = [a.info["node_id"] for a in agents]
    expect(dash.page.locator(".topo-card")).to_have_count(2)
    for node_id in ids:
        expect(card(dash, node_id).locator('[data-field="cpu"]')).to_have_text(PERCENT)
        expect(card(dash, node_id)).to_have_attribute("data-ts", re.compile(r"^\d"))
    # Mark each card element: a card rebuilt on telemetry would lose the mark.
    dash.page.evaluate(
        """(ids) => ids.forEach((id) => {
            document.querySelector(`.topo-card[data-node-id="${id}"]`).dataset.probe = "kept";
        })""",
        ids,
    )
    # Three successive readings per member, each from a newer sample: every figure is the
    # percentage of the very sample it claims to show (each agent keeps its own history).
    # Asserting on the text changing alone would be flaky: a saturated machine reads 100.0%.
    seen: list[list[tuple[float, str]]] = [[], []]
    for _ in range(3):
        last = [s[-1][0] if s else 0 for s in seen]
        dash.page.wait_for_function(
            """([ids, last]) => ids.every((id, i) => Number(document.querySelector(
                `.topo-card[data-node-id="${id}"]`)?.dataset.ts) > last[i])""",
            arg=[ids, last],
        )
        for i, (ts, text) in enumerate(dash.page.evaluate(READ_CARDS, ids)):
            seen[i].append((ts, text))
    for agent, readings in zip(agents, seen, strict=True):
        for ts, text in readings:
            assert text == sample_cpu(agent, ts), f"{agent.home.name} at {ts}"
    for node_id in ids:
        expect(card(dash, node_id)).to_have_attribute("data-probe", "kept")


def test_member_joins_goes_offline_and_is_evicted_live(
    dash: Dash, fabric: Fabric, tmp_path: Path
) -> None:
    dash.goto("/")
    expect(dash.page.locator(".topo-card")).to_have_count(2)
    links = dash.page.locator("svg.topo-links [data-link]")
    expect(links).to_have_count(1)

    args = ("--node-name", "charlie", "--ollama-url", fabric.ollama_b.url)
    with agent_process(tmp_path / "c", *args) as third:
        third_id = third.info["node_id"]
        response = join(third, fabric.a)
        assert response.status_code == 200, response.text

        # Joined: a new card and link appear without a reload, and the event is listed.
        el = card(dash, third_id)
        expect(el.get_by_role("link", name="charlie")).to_be_visible()
        expect(links).to_have_count(2)
        expect(el.locator('[data-field="state"]')).to_have_attribute("data-state", "online")
        expect(el.locator('[data-field="cpu"]')).to_have_text(PERCENT)
        expect(dash.page.locator('[data-total="nodes"]')).to_have_text("3 / 3")
        joined = dash.page.locator('[data-events] li[data-topic="node.joined"]')
        expect(joined.filter(has_text="charlie").first).to_be_visible()
        # Node events carry their time, so even a replayed one says when it happened.
        expect(joined.filter(has_text="charlie").first.locator("time")).to_have_text(CLOCK)

        # Killed: suspect first, then offline, on the card and on its link.
        third.process.kill()
        third.process.wait(10)
        wait_for_state(dash, third_id, "suspect", OFFLINE_WITHIN_MS)
        link = dash.page.locator(f'svg.topo-links [data-link="{third_id}"]')
        expect(link).to_have_attribute("data-state", "suspect")
        wait_for_state(dash, third_id, "offline", OFFLINE_WITHIN_MS)
        expect(link).to_have_attribute("data-state", "offline")
        expect(dash.page.locator('[data-total="nodes"]')).to_have_text("2 / 3")

        # Evicted: the card and its link go, live.
        fabric.call("DELETE", f"/api/nodes/{third_id}")
        expect(el).to_have_count(0)
        expect(links).to_have_count(1)
        expect(dash.page.locator('[data-total="nodes"]')).to_have_text("2 / 2")
        evicted = dash.page.locator('[data-events] li[data-topic="node.evicted"]')
        expect(evicted.filter(has_text="charlie").first).to_be_visible()
    expect(dash.page.locator(".topo-card")).to_have_count(2)


def test_recent_events_come_from_the_replay_ring(dash: Dash, fabric: Fabric) -> None:
    # Events published before the page opened are listed from what the agent still holds.
    task = {"command": "echo overview", "preferred_node": fabric.a.info["node_id"]}
    fabric.call("POST", "/api/tasks", json=task)
    dash.goto("/")
    items = dash.page.locator("[data-events] li")
    expect(items.filter(has_text="echo overview").first).to_be_visible()
    assert items.count() <= 30
    topics = dash.page.evaluate(
        "() => [...document.querySelectorAll('[data-events] li')].map((li) => li.dataset.topic)"
    )
    assert not [t for t in topics if t in ("node.telemetry", "node.heartbeat")]


def test_overview_fits_a_phone_and_has_both_themes(
    browser: Any, dash: Dash, fabric: Fabric
) -> None:
    phone = open_dash(browser, fabric.a, viewport=PHONE)
    try:
        phone.goto("/")
        expect(phone.page.locator(".topo-card")).to_have_count(2)
        expect(phone.page.locator('[data-total="nodes"]')).to_have_text("2 / 2")
        phone.no_horizontal_scroll()
        phone.shot("overview-phone")
        assert not phone.unexpected(), "\n".join(phone.unexpected())
    finally:
        phone.page.context.close()

    dash.goto("/")
    expect(dash.page.locator(".topo-card")).to_have_count(2)
    dash.no_horizontal_scroll()
    theme = dash.page.locator("#theme")
    for name in ("light", "dark"):
        theme.click()
        expect(dash.page.locator("html")).to_have_attribute("data-theme", name)
        expect(theme).to_have_text(f"Theme: {name}")
        assert dash.shot(f"overview-{name}").stat().st_size > 10_000
