"""The Cluster page against real agents: a join token made on the page lets a third agent in
(it appears live, without a reload), the token's QR code and countdown, evicting that agent
from the page, leaving from a member's own page, discovery off, phone width and both themes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dash, Fabric, expect, open_dash
from tests.harness import AgentProcess, agent_process, call, join, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COMMAND = re.compile(r"^openfabric join (ofj1\.[A-Za-z0-9_-]+)$")


def member_ids(fabric: Fabric, on: AgentProcess | None = None) -> set[str]:
    return {n["node_id"] for n in fabric.call("GET", "/api/nodes", on=on)["nodes"]}


def node_id(agent: AgentProcess) -> str:
    return str(call(agent, "GET", "/api/status").json()["node_id"])


def confirm(page: Any, button: str, says: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(says)
    dialog.get_by_role("button", name=button).click()
    expect(dialog).to_have_count(0)


def create_token(dash: Dash) -> str:
    """Makes a token on the page; answers it as the page's command shows it."""
    dash.goto("/cluster")
    dash.page.get_by_role("button", name="Create join token").click()
    command = dash.page.locator("[data-join-command]")
    expect(command).to_have_text(COMMAND)
    found = COMMAND.match(command.inner_text())
    assert found
    return found.group(1)


def test_a_token_from_the_page_lets_a_third_agent_in_and_evict_removes_it(
    dash: Dash, fabric: Fabric, tmp_path: Path
) -> None:
    page = dash.page
    dash.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    token = create_token(dash)
    link = page.locator("[data-join-link]")
    expect(link).to_have_text(re.compile(rf"^https://[^/]+/join/{re.escape(token)}$"))
    assert link.get_attribute("href") == link.inner_text()
    expect(page.locator("[data-token-for]")).to_contain_text("For any device")

    page.get_by_role("button", name="Copy the command").click()
    assert page.evaluate("navigator.clipboard.readText()") == f"openfabric join {token}"

    qr = page.get_by_role("img", name="QR code of the join link")
    expect(qr).to_be_visible()
    assert int(qr.get_attribute("data-modules") or 0) > 20
    assert qr.evaluate("el => el.tagName.toLowerCase()") == "svg"
    assert len(qr.locator("path").get_attribute("d") or "") > 1000

    countdown = page.locator("[data-countdown]")
    expect(countdown).to_have_text(re.compile(r"^Expires in \d+m \d+s$"))
    first = int(countdown.get_attribute("data-remaining") or 0)
    assert 0 < first <= 600
    page.wait_for_function(
        "n => Number(document.querySelector('[data-countdown]').dataset.remaining) < n", arg=first
    )

    page.evaluate("window.notReloaded = true")
    with agent_process(tmp_path / "c", "--node-name", "charlie") as charlie:
        # What `openfabric join <token>` asks its own agent to do.
        joined = call(charlie, "POST", "/api/cluster/join-remote", json={"token": token})
        assert joined.status_code == 200, joined.text
        charlie_id = node_id(charlie)
        row = page.locator(f'tr[data-member="{charlie_id}"]')
        expect(row).to_contain_text("charlie")
        expect(page.locator("[data-member-summary]")).to_contain_text("3 members")

        # Evicting is offered on other members' rows, leaving only on this node's own.
        expect(row.get_by_role("button", name=re.compile("Leave"))).to_have_count(0)
        own = page.locator('tr[data-self="true"]')
        expect(own).to_contain_text("alpha")
        expect(own.get_by_role("button", name="Leave the cluster (this node)")).to_be_visible()
        expect(own.get_by_role("button", name=re.compile("Evict"))).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("Leave"))).to_have_count(1)

        row.get_by_role("button", name="Evict charlie").click()
        confirm(page, "Evict for good", "for good")
        expect(row).to_have_count(0)
        assert charlie_id not in member_ids(fabric)
        wait_until(
            lambda: charlie_id not in member_ids(fabric, on=fabric.b), 20, "bravo to drop charlie"
        )
    expect(page.locator("[data-member-summary]")).to_contain_text("2 members")
    assert page.evaluate("window.notReloaded") is True


def test_a_member_leaves_from_its_own_page(browser: Any, fabric: Fabric, tmp_path: Path) -> None:
    with agent_process(tmp_path / "d", "--node-name", "delta") as delta:
        assert join(delta, fabric.a).status_code == 200
        delta_id = node_id(delta)
        wait_until(lambda: delta_id in member_ids(fabric), 20, "alpha to list delta")
        own = open_dash(browser, delta)
        try:
            page = own.page
            own.goto("/cluster")
            mine = page.locator(f'tr[data-member="{delta_id}"]')
            expect(mine).to_have_attribute("data-self", "true")
            expect(page.locator('tr[data-self="false"]')).to_have_count(2)
            mine.get_by_role("button", name="Leave the cluster (this node)").click()
            confirm(page, "Leave cluster", "goes on alone")
            expect(page.locator("[data-cluster-summary]")).to_contain_text("delta is alone")
            expect(page.locator("tr[data-member]")).to_have_count(1)
            expect(mine.get_by_role("button")).to_have_count(0)
            wait_until(lambda: delta_id not in member_ids(fabric), 20, "alpha to drop delta")
        finally:
            page.context.close()
        assert not own.unexpected(), "\n".join(own.unexpected())


def test_the_page_says_when_discovery_is_off(dash: Dash, fabric: Fabric) -> None:
    listing = fabric.call("GET", "/api/cluster/discovered")
    assert listing["mdns"] is False
    assert listing["agents"] == []
    dash.goto("/cluster")
    expect(dash.page.locator("[data-discovery-off]")).to_contain_text(
        "Discovery is off on this agent"
    )
    expect(dash.page.get_by_role("button", name=re.compile("^Invite"))).to_have_count(0)


def test_phone_width_and_screenshots(browser: Any, dash: Dash, fabric: Fabric) -> None:
    phone = open_dash(browser, fabric.a, viewport=PHONE)
    try:
        create_token(phone)
        expect(phone.page.get_by_role("img", name="QR code of the join link")).to_be_visible()
        expect(phone.page.locator("tr[data-member]")).to_have_count(2)
        phone.no_horizontal_scroll()
        phone.shot("cluster-phone")
    finally:
        phone.page.context.close()
    assert not phone.unexpected(), "\n".join(phone.unexpected())

    create_token(dash)
    expect(dash.page.locator("tr[data-member]")).to_have_count(2)
    for theme in ("light", "dark"):
        dash.page.locator("#theme").click()
        expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)
        dash.shot(f"cluster-{theme}")
