"""The Flows page in a real Chromium against a real agent: the list, a new flow saved with an
error shown at its line (clicking it puts the cursor there), then saved valid, run from its
inputs form, its timeline of steps, a rerun from a step, the switch, a delete after a
confirmation; a run cancelled from its timeline; flows and runs made elsewhere followed live,
names shown as text; the phone width and both themes.

The agent is shared by the module: each test works on flows of its own name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import PHONE, Dash, expect, open_dash
from tests.harness import AgentProcess, agent_process, call

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

BROKEN = """name: Page greeter
steps:
  - id: pause
    uses: no.such.action
  - id: store
    uses: wait
    with: {duration: 1s}
"""
GREETER = """name: Page greeter
inputs:
  word: {type: string, default: hello, description: What to store}
triggers:
  - manual: {}
steps:
  - id: pause
    uses: wait
    with: {duration: 100ms}
  - id: store
    uses: storage.put
    with:
      path: "flows-page/${{ run.id }}.txt"
      content: "${{ inputs.word }}"
"""
LONG_WAIT = """name: Page long wait
steps:
  - id: sleep
    uses: wait
    with: {duration: 1h}
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("flows-page")
    with agent_process(root / "a", "--node-name", "alpha") as a:
        yield a


@pytest.fixture
def dash(browser: Any, agent: AgentProcess) -> Iterator[Dash]:
    dash = open_dash(browser, agent)
    try:
        yield dash
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())


def api(agent: AgentProcess, method: str, path: str, **kw: Any) -> Any:
    response = call(agent, method, path, **kw)
    assert response.status_code < 400, response.text
    return response.json()


def create(agent: AgentProcess, text: str) -> dict[str, Any]:
    headers = {**agent.headers(), "Content-Type": "application/yaml"}
    response = httpx.post(agent.url + "/api/flows", content=text, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    flow: dict[str, Any] = response.json()
    return flow


def card(dash: Dash, flow_id: str) -> Any:
    return dash.page.locator(f'li.flows-item[data-id="{flow_id}"]')


def set_theme(dash: Dash, theme: str) -> None:
    button = dash.page.locator("#theme")
    for _ in range(3):
        if button.inner_text() == f"Theme: {theme}":
            break
        button.click()
    expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)


def cursor_line(dash: Dash) -> int:
    line: int = dash.page.evaluate(
        """() => {
          const t = document.querySelector("textarea.flows-source");
          if (document.activeElement !== t) return -1;
          return t.value.slice(0, t.selectionStart).split("\\n").length;
        }"""
    )
    return line


def test_write_fix_save_run_rerun_toggle_and_delete(dash: Dash, agent: AgentProcess) -> None:
    page = dash.page
    dash.goto("/flows")
    expect(page.locator("#nav-list a[aria-current=page]")).to_have_text("Flows")
    page.get_by_role("button", name="New flow").click()
    source = page.get_by_label("Definition (YAML or JSON)")
    expect(source).to_have_value(re.compile(r"^name: My new flow"))

    dash.allow(r"HTTP 400: POST \S+/api/flows$")
    dash.allow(r"status of 400 .*\(\S+/api/flows\)$")
    source.fill(BROKEN)
    page.get_by_role("button", name="Save", exact=True).click()
    problem = page.locator('.flows-problem[data-line="4"]')
    expect(problem).to_contain_text("4:11")
    expect(problem).to_contain_text("no.such.action")
    expect(source).to_have_attribute("data-error-lines", "4")
    expect(source).to_have_attribute("aria-invalid", "true")
    expect(page.locator('.flows-mark-line[data-line="4"]')).to_have_count(1)
    problem.get_by_role("button").click()
    assert cursor_line(dash) == 4
    assert api(agent, "GET", "/api/flows")["count"] == 0

    source.fill(GREETER)
    page.get_by_role("button", name="Save", exact=True).click()
    item = card(dash, "page-greeter")
    expect(item).to_have_count(1)
    expect(page.locator(".flows-problem")).to_have_count(0)
    expect(source).not_to_have_attribute("data-error-lines", re.compile(".*"))
    expect(item).to_have_attribute("aria-current", "true")
    expect(item.locator(".flows-triggers")).to_have_text("manual")
    expect(item.locator(".flows-owner")).to_have_text("runs on alpha")
    expect(item.locator(".flows-last .badge")).to_have_text("never run")
    assert api(agent, "GET", "/api/flows/page-greeter")["source"] == GREETER
    assert "flow=page-greeter" in page.url

    item.get_by_role("button", name="Run Page greeter").click()
    form = item.locator("form.flows-inputs")
    expect(form.get_by_label("word")).to_have_value("hello")
    form.get_by_label("word").fill("salut")
    form.get_by_role("button", name="Start run").click()
    timeline = page.locator("[data-flows=timeline]")
    expect(timeline).to_have_attribute("data-state", "succeeded")
    steps = timeline.locator("li.flows-step")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_have_attribute("data-step", "pause")
    expect(steps.nth(0)).to_have_attribute("data-state", "succeeded")
    expect(steps.nth(1)).to_have_attribute("data-state", "succeeded")
    expect(steps.nth(1).locator(".flows-attempts")).to_have_text("1 attempt")
    expect(steps.nth(0).locator(".flows-took")).to_have_text(re.compile(r"^[\d.]+ m?s$"))
    store = steps.nth(1)
    store.get_by_text("Inputs and outputs").click()
    expect(store.locator(".flows-outputs")).to_contain_text('"content": "salut"')
    expect(item.locator(".flows-last .badge")).to_have_text("Succeeded")
    (run,) = api(agent, "GET", "/api/flows/page-greeter/runs")["runs"]
    assert run["inputs"] == {"word": "salut"}
    expect(timeline).to_have_attribute("data-run", run["id"])

    store.get_by_role("button", name="Rerun from step store").click()
    expect(timeline).not_to_have_attribute("data-run", run["id"])
    expect(timeline).to_have_attribute("data-state", "succeeded")
    expect(page.locator("tr.flows-run-row")).to_have_count(2)
    rerun = api(agent, "GET", "/api/flows/page-greeter/runs")["runs"][0]
    assert (rerun["rerun_of"], rerun["trigger"]["kind"]) == (run["id"], "rerun")

    switch = item.get_by_role("switch", name="Enabled: Page greeter")
    switch.uncheck()
    expect(item).to_have_attribute("data-enabled", "false")
    assert api(agent, "GET", "/api/flows/page-greeter")["enabled"] is False

    page.get_by_role("button", name="Delete flow").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Page greeter")
    dialog.get_by_role("button", name="Delete flow").click()
    expect(item).to_have_count(0)
    assert call(agent, "GET", "/api/flows/page-greeter").status_code == 404


def test_an_active_run_is_cancelled_from_its_timeline(dash: Dash, agent: AgentProcess) -> None:
    flow = create(agent, LONG_WAIT)
    run = api(agent, "POST", f"/api/flows/{flow['id']}/run", json={})
    try:
        dash.goto(f"/flows?flow={flow['id']}&run={run['id']}")
        timeline = dash.page.locator("[data-flows=timeline]")
        expect(timeline).to_have_attribute("data-state", "waiting")
        expect(timeline.locator('li.flows-step[data-step="sleep"]')).to_have_attribute(
            "data-state", "waiting"
        )
        expect(timeline.get_by_role("button", name="Rerun", exact=True)).to_be_hidden()
        timeline.get_by_role("button", name="Cancel run").click()
        expect(timeline).to_have_attribute("data-state", "cancelled")
        expect(timeline.get_by_role("button", name="Cancel run")).to_be_hidden()
    finally:
        api(agent, "DELETE", f"/api/flows/{flow['id']}")


def test_flows_and_runs_made_elsewhere_appear_as_text(dash: Dash, agent: AgentProcess) -> None:
    dash.goto("/flows")
    expect(dash.page.locator("[data-flows=list] .muted").first).to_contain_text("flow")
    hostile = GREETER.replace("name: Page greeter", 'name: "<img src=x onerror=alert(1)> live"')
    flow = create(agent, hostile)
    item = card(dash, flow["id"])
    expect(item.locator(".flows-name")).to_have_text("<img src=x onerror=alert(1)> live")
    assert dash.page.locator("[data-flows=list] img").count() == 0
    item.locator(".flows-name").click()
    expect(dash.page.get_by_label("Definition (YAML or JSON)")).to_have_value(hostile)
    try:
        run = api(agent, "POST", f"/api/flows/{flow['id']}/run", json={})
        expect(dash.page.locator(f'tr.flows-run-row[data-run="{run["id"]}"]')).to_have_count(1)
        expect(item.locator(".flows-last .badge")).to_have_text("Succeeded")
    finally:
        api(agent, "DELETE", f"/api/flows/{flow['id']}")
    expect(item).to_have_count(0)


def test_phone_width_and_both_themes(browser: Any, agent: AgentProcess) -> None:
    long_name = "A flow with a name that goes on " + "and on " * 12
    flow = create(agent, GREETER.replace("name: Page greeter", f"name: {long_name}"))
    run = api(agent, "POST", f"/api/flows/{flow['id']}/run", json={})
    phone = open_dash(browser, agent, viewport=PHONE)
    try:
        phone.goto(f"/flows?flow={flow['id']}&run={run['id']}")
        timeline = phone.page.locator("[data-flows=timeline]")
        expect(timeline).to_have_attribute("data-state", "succeeded")
        phone.no_horizontal_scroll()
        for theme in ("light", "dark"):
            set_theme(phone, theme)
            phone.no_horizontal_scroll()
            phone.shot(f"flows-phone-{theme}")
    finally:
        phone.page.context.close()
        api(agent, "DELETE", f"/api/flows/{flow['id']}")
    assert not phone.unexpected(), "\n".join(phone.unexpected())
