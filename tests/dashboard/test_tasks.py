"""The Tasks page against two real agents: submitting, live output, cancelling, placement,
resuming the output stream, filters as links, phone width and both themes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dash, Fabric, expect, open_dash
from tests.harness import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ACTIVE = ("queued", "scheduled", "running")
TASK_URL = re.compile(r"/tasks/(t[0-9a-f]+)$")


def task(fabric: Fabric, task_id: str) -> dict[str, Any]:
    result: dict[str, Any] = fabric.call("GET", f"/api/tasks/{task_id}")
    return result


def node_id(fabric: Fabric, agent: Any) -> str:
    return str(fabric.call("GET", "/api/status", on=agent)["node_id"])


def finished(fabric: Fabric, command: str) -> dict[str, Any]:
    """A task run through the API, once it ended."""
    task_id = fabric.call("POST", "/api/tasks", json={"command": command})["task_id"]

    def ended() -> dict[str, Any] | None:
        body = task(fabric, task_id)
        return None if body["state"] in ACTIVE else body

    result: dict[str, Any] = wait_until(ended, 20, f"task {command!r} to end")
    return result


def submit(dash: Dash, command: str, node: str | None = None) -> str:
    """Submits from the page's form; answers the new task's id (the page moves to it)."""
    page = dash.page
    dash.goto("/tasks")
    page.get_by_label("Command", exact=True).fill(command)
    if node is not None:
        select = page.locator("form select[name=node]")
        expect(select.locator(f"option[data-name={node}]")).to_be_enabled()
        value = select.locator(f"option[data-name={node}]").get_attribute("value")
        select.select_option(value)
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(TASK_URL)
    found = TASK_URL.search(page.url)
    assert found
    return found.group(1)


def state_badge(dash: Dash) -> Any:
    return dash.page.locator("[data-task-state]")


def test_list_and_scheduler_show_real_data(dash: Dash, fabric: Fabric) -> None:
    done = finished(fabric, "echo listed")
    dash.goto("/tasks")
    row = dash.page.locator(f"[data-task-list] tr[data-task-id={done['task_id']}]")
    expect(row).to_contain_text("echo listed")
    expect(row.locator(".badge")).to_have_attribute("data-state", "succeeded")
    names = {n["node_id"]: n["name"] for n in fabric.call("GET", "/api/nodes")["nodes"]}
    expect(row.locator("td").nth(2)).to_have_text(names[done["node_id"]])
    total = fabric.call("GET", "/api/tasks", params={"limit": 1})["total"]
    expect(dash.page.locator("[data-task-summary]")).to_contain_text(f"of {total} task")

    scheduler = dash.page.locator("[data-scheduler]")
    for agent in (fabric.a, fabric.b):
        breaker = scheduler.locator(f"[data-breaker='{node_id(fabric, agent)}'] .badge")
        expect(breaker).to_have_attribute("data-state", "closed")
    stats = fabric.call("GET", "/api/scheduler/stats")
    expect(scheduler.locator("[data-stat=queue_depth]")).to_have_text(str(stats["queue_depth"]))
    expect(scheduler).to_contain_text("bravo")


def test_output_streams_while_the_task_runs(dash: Dash, fabric: Fabric, tmp_path: Path) -> None:
    release = tmp_path / "release"
    command = (
        "for i in 1 2 3; do echo line-$i; done; "
        f"while [ ! -e {release} ]; do sleep 0.05; done; echo line-4; echo err >&2"
    )
    task_id = submit(dash, command)
    output = dash.page.locator("[data-task-output]")
    expect(output).to_contain_text("line-3")
    # The command waits for the file, so the early lines were shown while it still ran.
    wait_until(lambda: task(fabric, task_id)["state"] == "running", 10, "the task to run")
    expect(state_badge(dash)).to_have_attribute("data-state", "running")
    expect(output).not_to_contain_text("line-4")
    release.touch()
    expect(state_badge(dash)).to_have_attribute("data-state", "succeeded")
    expect(output.locator("[data-stream=stderr]")).to_have_text("err\n")
    expect(output).to_contain_text("line-4")
    expect(dash.page.locator("[data-fact=exit]")).to_have_text("0")
    body = task(fabric, task_id)
    assert (body["state"], body["exit_code"]) == ("succeeded", 0)


def test_list_and_scheduler_follow_events(dash: Dash, fabric: Fabric, tmp_path: Path) -> None:
    """No reload: a new task appears at the top, changes in place, and the filtered view
    takes it in only once it matches; the scheduler panel follows."""
    release = tmp_path / "release"
    rows = dash.page.locator("[data-task-list] tbody tr[data-task-id]")
    dash.goto("/tasks")
    expect(dash.page.locator("[data-task-list]")).to_have_attribute("data-loaded", "true")
    made = fabric.call(
        "POST", "/api/tasks", json={"command": f"until [ -e {release} ]; do sleep 0.05; done"}
    )
    row = rows.first
    expect(row).to_have_attribute("data-task-id", made["task_id"])
    expect(row.locator(".badge")).to_have_attribute("data-state", "running")
    expect(dash.page.locator("[data-stat=running]")).to_have_text("1")

    dash.page.get_by_label("State", exact=True).select_option("succeeded")
    expect(dash.page.locator("[data-task-list]")).to_have_attribute("data-loaded", "true")
    expect(dash.page.locator(f"tr[data-task-id={made['task_id']}]")).to_have_count(0)
    release.touch()
    expect(rows.first).to_have_attribute("data-task-id", made["task_id"])
    expect(rows.first.locator(".badge")).to_have_attribute("data-state", "succeeded")
    scheduler = dash.page.locator("[data-scheduler]")
    for stat in ("running", "in_flight", "queue_depth"):
        expect(scheduler.locator(f"[data-stat={stat}]")).to_have_text("0")
    succeeded = fabric.call("GET", "/api/scheduler/stats")["totals"]["succeeded"]
    expect(scheduler).to_contain_text(f"{succeeded} succeeded")


def test_cancel_from_the_page(dash: Dash, fabric: Fabric) -> None:
    task_id = submit(dash, "sleep 60")
    expect(state_badge(dash)).to_have_attribute("data-state", "running")
    dash.page.get_by_role("button", name="Cancel task").click()
    dialog = dash.page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancel this task?")
    dialog.get_by_role("button", name="Cancel task").click()
    expect(state_badge(dash)).to_have_attribute("data-state", "cancelled")
    expect(dash.page.get_by_role("button", name="Cancel task")).to_be_hidden()
    assert task(fabric, task_id)["state"] == "cancelled"


def test_submit_to_bravo_runs_there(dash: Dash, fabric: Fabric) -> None:
    task_id = submit(dash, "echo from-bravo", node="bravo")
    expect(state_badge(dash)).to_have_attribute("data-state", "succeeded")
    expect(dash.page.locator("[data-task-output]")).to_have_text("from-bravo\n")
    expect(dash.page.locator("[data-fact=node]")).to_have_text("bravo")
    assert task(fabric, task_id)["node_id"] == node_id(fabric, fabric.b)


def test_finished_output_shows_once_after_reload(dash: Dash, fabric: Fabric) -> None:
    done = finished(fabric, "seq 1 300; echo tail >&2")
    expected = "".join(f"{i}\n" for i in range(1, 301)) + "tail\n"
    dash.goto(f"/tasks/{done['task_id']}")
    output = dash.page.locator("[data-task-output]")
    expect(output).to_have_text(expected)
    dash.page.reload()
    expect(dash.page.locator("[data-stream-state]")).to_have_text("complete")
    expect(output).to_have_text(expected)


def test_a_dropped_stream_resumes_after_the_last_chunk(dash: Dash, fabric: Fabric) -> None:
    """The first log stream is cut after two chunks; the page reconnects with the last id."""
    done = finished(fabric, "for i in 1 2 3 4 5 6; do echo part-$i; sleep 0.15; done")
    resumed_with: list[str | None] = []
    cut_at: list[str] = []

    def cut_first(route: Any) -> None:
        if resumed_with or "last-event-id" in route.request.headers:
            resumed_with.append(route.request.headers.get("last-event-id"))
            route.continue_()
            return
        body = route.fetch().text()
        frames = [f for f in re.split(r"\r?\n\r?\n", body) if "event: std" in f]
        assert len(frames) >= 3, body
        cut_at.extend(re.findall(r"^id: (\S+)", frames[1], re.M))
        route.fulfill(
            status=200,
            headers={"Content-Type": "text/event-stream"},
            body="\n\n".join(frames[:2]) + "\n\n",
        )
        resumed_with.append(None)

    dash.page.route(re.compile(r"/api/tasks/[^/]+/logs$"), cut_first)
    dash.goto(f"/tasks/{done['task_id']}")
    expected = "".join(f"part-{i}\n" for i in range(1, 7))
    expect(dash.page.locator("[data-task-output]")).to_have_text(expected)
    expect(dash.page.locator("[data-stream-state]")).to_have_text("complete")
    assert resumed_with[:1] == [None]
    assert resumed_with[1:] == cut_at


def test_the_page_keeps_the_last_two_mib(dash: Dash, fabric: Fabric) -> None:
    done = finished(fabric, "seq 1 400000")
    full = "".join(f"{i}\n" for i in range(1, 400001))
    dash.goto(f"/tasks/{done['task_id']}")
    expect(dash.page.locator("[data-stream-state]")).to_have_text("complete")
    dash.page.wait_for_function(
        "() => document.querySelector('[data-task-output]').textContent.endsWith('\\n400000\\n')"
    )
    shown = dash.page.locator("[data-task-output]").evaluate("el => el.textContent")
    assert shown == full[-2 * 1024 * 1024 :]
    expect(dash.page.get_by_text("Showing the last 2 MiB of output.")).to_be_visible()


def test_status_filter_is_a_link(dash: Dash, fabric: Fabric) -> None:
    good = finished(fabric, "true")
    bad = finished(fabric, "exit 3")
    assert (good["state"], bad["state"]) == ("succeeded", "failed")
    dash.goto("/tasks")
    rows = dash.page.locator("[data-task-list] tbody tr[data-task-id]")
    expect(dash.page.locator(f"tr[data-task-id={bad['task_id']}]")).to_have_count(1)
    dash.page.get_by_label("State", exact=True).select_option("succeeded")
    expect(dash.page).to_have_url(re.compile(r"\?status=succeeded$"))
    for view in ("filtered", "reloaded"):
        expect(rows.first).to_be_visible()
        expect(dash.page.locator(f"tr[data-task-id={good['task_id']}]")).to_be_visible()
        expect(dash.page.locator(f"tr[data-task-id={bad['task_id']}]")).to_have_count(0)
        states = rows.evaluate_all("rows => rows.map(r => r.dataset.state)")
        assert states, view
        assert set(states) == {"succeeded"}, (view, states)
        if view == "filtered":
            dash.page.reload()
            expect(dash.page.get_by_label("State", exact=True)).to_have_value("succeeded")


def test_paging_older_and_newer(dash: Dash, fabric: Fabric) -> None:
    made = [fabric.call("POST", "/api/tasks", json={"command": "true"}) for _ in range(26)]
    wait_until(
        lambda: all(task(fabric, t["task_id"])["state"] not in ACTIVE for t in made),
        60,
        "the tasks to end",
    )
    dash.goto("/tasks")
    rows = dash.page.locator("[data-task-list] tbody tr[data-task-id]")
    first = fabric.call("GET", "/api/tasks", params={"limit": 25})
    expect(rows.first).to_have_attribute("data-task-id", first["tasks"][0]["task_id"])
    expect(rows).to_have_count(25)
    expect(dash.page.get_by_role("button", name="Newer")).to_be_disabled()
    dash.page.get_by_role("button", name="Older").click()
    expect(dash.page).to_have_url(re.compile(r"\?offset=25$"))
    older = fabric.call("GET", "/api/tasks", params={"limit": 25, "offset": 25})
    expect(rows.first).to_have_attribute("data-task-id", older["tasks"][0]["task_id"])
    expect(rows).to_have_count(older["count"])
    expect(dash.page.locator("[data-task-summary]")).to_contain_text(re.compile(r"^26\D"))
    dash.page.get_by_role("button", name="Newer").click()
    expect(dash.page).to_have_url(re.compile(r"/tasks$"))
    expect(rows.first).to_have_attribute("data-task-id", first["tasks"][0]["task_id"])


def test_a_refused_command_shows_the_agents_message(dash: Dash) -> None:
    dash.allow(r"400.*/api/tasks\b")
    dash.goto("/tasks")
    dash.page.get_by_label("Command", exact=True).fill("   ")
    dash.page.get_by_role("button", name="Run").click()
    expect(dash.page.get_by_role("alert")).to_contain_text("command is empty")
    expect(dash.page).to_have_url(re.compile(r"/tasks$"))


def test_unknown_task_says_so(dash: Dash) -> None:
    dash.allow(r"tnosuchtask")
    dash.goto("/tasks/tnosuchtask")
    expect(dash.page.locator("[data-missing]")).to_contain_text("No such task")


def test_phone_width_and_screenshots(browser: Any, dash: Dash, fabric: Fabric) -> None:
    done = finished(fabric, "echo out; echo warn >&2; seq 1 40")
    detail = f"/tasks/{done['task_id']}"
    phone = open_dash(browser, fabric.a, viewport=PHONE)
    try:
        phone.goto("/tasks")
        expect(phone.page.locator("[data-task-list] tr[data-task-id]").first).to_be_visible()
        phone.no_horizontal_scroll()
        phone.shot("tasks-list-phone")
        phone.goto(detail)
        expect(phone.page.locator("[data-stream-state]")).to_have_text("complete")
        phone.no_horizontal_scroll()
        phone.shot("tasks-detail-phone")
        assert not phone.unexpected(), phone.unexpected()
    finally:
        phone.page.context.close()

    for theme in ("light", "dark"):
        dash.page.locator("#theme").click()
        expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)
        dash.goto("/tasks")
        expect(dash.page.locator("[data-task-list] tr[data-task-id]").first).to_be_visible()
        expect(dash.page.locator("[data-stat=queue_depth]")).not_to_have_text("—")
        dash.shot(f"tasks-list-{theme}")
        dash.goto(detail)
        expect(dash.page.locator("[data-stream-state]")).to_have_text("complete")
        dash.shot(f"tasks-detail-{theme}")
