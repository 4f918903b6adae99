"""The Tools page (MCP servers) and the chat's "Tools" selector in a real Chromium against a
real agent with real MCP servers: the time builtin added from the form, seen ready with its
tools, a test call with its result, toggled off and on, deleted after a confirmation; a custom
server with a credential that never shows again (page or API); a server that fails, with its
reason and stderr; servers added elsewhere followed live; the phone width and both themes;
and the chat sending `mcp_servers` and rendering the tool events of a recorded answer stream.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.dashboard.conftest import MODEL_A, PHONE, Dash, expect, open_dash
from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import AgentProcess, agent_process, call, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

REPLY = "It is noon in Paris."
SECRET = "dashboard-secret-that-must-never-show"
EXITS_AT_ONCE = "import sys; sys.stderr.write('cannot start: no config\\n'); sys.exit(3)"
START_S = 60_000  # ms: starting a server imports the MCP SDK, slow on a busy machine


@dataclass
class Tools:
    agent: AgentProcess
    ollama: FakeOllamaProcess

    def servers(self) -> dict[str, dict[str, Any]]:
        response = call(self.agent, "GET", "/api/mcp/servers")
        assert response.status_code == 200, response.text
        return {s["name"]: s for s in response.json()["servers"]}

    def add(self, **body: Any) -> dict[str, Any]:
        response = call(self.agent, "POST", "/api/mcp/servers", json=body)
        assert response.status_code == 201, response.text
        server: dict[str, Any] = response.json()
        return server


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tools]:
    root = tmp_path_factory.mktemp("mcp")
    fake = FakeOllama(models=[MODEL_A], reply_text=REPLY)
    with (
        fake_ollama_process(root / "ollama.json", fake) as ollama,
        agent_process(root / "a", "--node-name", "alpha", "--ollama-url", ollama.url) as agent,
    ):
        yield Tools(agent, ollama)


@pytest.fixture
def dash(browser: Any, tools: Tools) -> Iterator[Dash]:
    dash = open_dash(browser, tools.agent)
    try:
        yield dash
    finally:
        dash.page.context.close()
    assert not dash.unexpected(), "\n".join(dash.unexpected())


def card(dash: Dash, name: str) -> Any:
    return dash.page.locator(f'li.mcp-server[data-name="{name}"]')


def set_theme(dash: Dash, theme: str) -> None:
    button = dash.page.locator("#theme")
    for _ in range(3):
        if button.inner_text() == f"Theme: {theme}":
            break
        button.click()
    expect(dash.page.locator("html")).to_have_attribute("data-theme", theme)


def test_the_time_builtin_from_the_form_to_its_deletion(dash: Dash, tools: Tools) -> None:
    page = dash.page
    dash.goto("/tools")
    expect(page.locator("#nav-list a[aria-current=page]")).to_have_text("Tools")
    add = page.locator("[data-mcp=add]")
    add.get_by_role("radio", name=re.compile(r"^Time")).check()
    add.get_by_label("Name", exact=True).fill("clock")
    add.get_by_role("button", name="Add server").click()
    server = card(dash, "clock")
    expect(server).to_have_count(1)
    assert tools.servers()["clock"]["builtin"] == "time"
    expect(server.locator(".mcp-builtin")).to_have_text("builtin time")

    server.get_by_text("Tools and test").click()
    expect(server.locator("li.mcp-tool[data-tool=get_current_time]")).to_be_visible(timeout=START_S)
    expect(server.locator(".badge")).to_have_text("Ready")
    expect(server.locator(".mcp-tool-count")).to_have_text(re.compile(r"^\d+ tools$"))
    schema = server.locator("li.mcp-tool[data-tool=get_current_time] .mcp-tool-schema")
    expect(schema).to_contain_text("timezone: string*")
    # The cluster's tools name the node that hosts them.
    row = page.locator('.mcp-cluster-table tr[data-server="clock"][data-tool="get_current_time"]')
    expect(row.locator(".mcp-host")).to_have_text("alpha")

    server.get_by_label("Tool", exact=True).select_option("get_current_time")
    arguments = server.get_by_label("Arguments (JSON)")
    arguments.fill("{not json")
    server.get_by_role("button", name="Run test").click()
    expect(server.locator(".memory-error, [role=alert]").first).to_contain_text("not valid JSON")
    assert not [r for r in dash.requests if r.url.endswith("/api/mcp/servers/clock/test")]
    arguments.fill('{"timezone": "Europe/Paris"}')
    server.get_by_role("button", name="Run test").click()
    result = server.locator(".mcp-result")
    expect(result).to_have_attribute("data-error", "false")
    expect(result.locator(".mcp-result-text")).to_contain_text("Europe/Paris")
    expect(result.locator(".mcp-timings")).to_have_text(re.compile(r"call [\d.]+ ms · total"))

    switch = server.get_by_role("switch", name="Enabled: clock")
    switch.uncheck()
    expect(server.locator(".badge")).to_have_text("Stopped")
    wait_until(lambda: not tools.servers()["clock"]["enabled"], 10, "clock to be disabled")
    switch.check()
    wait_until(lambda: tools.servers()["clock"]["enabled"], 10, "clock to be enabled")
    expect(server).to_have_attribute("data-enabled", "true")

    server.get_by_role("button", name="Delete server clock").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert "clock" in tools.servers()
    server.get_by_role("button", name="Delete server clock").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete server").click()
    expect(server).to_have_count(0)
    assert "clock" not in tools.servers()


def test_a_credential_is_never_shown_again(dash: Dash, tools: Tools) -> None:
    page = dash.page
    dash.goto("/tools")
    add = page.locator("[data-mcp=add]")
    add.get_by_role("radio", name="Custom server").check()
    add.get_by_label("Name", exact=True).fill("vault")
    add.get_by_label("Command", exact=True).fill(sys.executable)
    add.get_by_label("Arguments", exact=True).fill("-c\nprint('never started')")
    add.get_by_label("Environment").fill("MODE=test")
    add.get_by_role("button", name="Add a credential").click()
    add.get_by_label("Credential name").fill("API_TOKEN")
    value = add.get_by_label("Credential value")
    expect(value).to_have_attribute("type", "password")
    value.fill(SECRET)
    add.get_by_label("Start enabled").uncheck()
    add.get_by_role("button", name="Add server").click()
    server = card(dash, "vault")
    expect(server.locator(".mcp-credential-names")).to_have_text("credentials: API_TOKEN")
    expect(add.get_by_label("Credential value")).to_have_count(0)
    stored = tools.servers()["vault"]
    assert (stored["enabled"], stored["credential_names"]) == (False, ["API_TOKEN"])
    assert stored["transport"]["env"] == {"MODE": "test"}
    sent = [r for r in dash.requests if r.method == "POST" and r.url.endswith("/api/mcp/servers")]
    assert json.loads(sent[-1].post_data)["credentials"] == {"API_TOKEN": SECRET}
    assert SECRET not in page.content()
    page.reload()
    expect(card(dash, "vault")).to_have_count(1)
    assert SECRET not in page.content()
    for path in ("/api/mcp/servers", "/api/mcp/servers/tools/all", "/api/mcp/builtins"):
        assert SECRET not in call(tools.agent, "GET", path).text
    assert SECRET not in tools.agent.log()


def test_a_failing_server_and_changes_elsewhere_show_live(dash: Dash, tools: Tools) -> None:
    page = dash.page
    dash.goto("/tools")
    expect(page.locator("[data-mcp=servers] .muted").first).not_to_be_empty()
    page.evaluate("() => { window.sameDocument = true; }")
    tools.add(name="broken", transport={"type": "stdio", "command": sys.executable,
                                        "args": ["-c", EXITS_AT_ONCE]})  # fmt: skip
    server = card(dash, "broken")
    expect(server).to_have_count(1)
    expect(server.locator(".mcp-builtin")).to_have_text("custom")
    assert call(tools.agent, "GET", "/api/mcp/servers/broken/tools").status_code == 503
    expect(server.locator(".mcp-reason")).to_be_visible(timeout=START_S)
    expect(server.locator(".badge")).to_have_text(re.compile(r"^(Failed|Starting)$"))
    server.get_by_text(re.compile(r"^Server log")).click()
    expect(server.locator(".mcp-stderr")).to_contain_text("cannot start: no config")
    assert call(tools.agent, "DELETE", "/api/mcp/servers/broken").status_code == 200
    expect(server).to_have_count(0)
    assert page.evaluate("() => window.sameDocument") is True


def test_phone_width_and_both_themes(browser: Any, tools: Tools) -> None:
    long = "l" + "o" * 38 + "g"
    tools.add(name=long, description="d" * 200, enabled=False, transport={
        "type": "http", "url": "http://127.0.0.1:9/" + "p" * 300, "headers": {}})  # fmt: skip
    phone = open_dash(browser, tools.agent, viewport=PHONE)
    try:
        phone.goto("/tools")
        expect(card(phone, long)).to_be_visible()
        phone.page.locator("[data-mcp=add]").get_by_role("radio", name="Custom server").check()
        phone.no_horizontal_scroll()
        for theme in ("light", "dark"):
            set_theme(phone, theme)
            phone.no_horizontal_scroll()
            phone.shot(f"tools-phone-{theme}")
    finally:
        phone.page.context.close()
        call(tools.agent, "DELETE", f"/api/mcp/servers/{long}")
    assert not phone.unexpected(), "\n".join(phone.unexpected())


def sse(*events: tuple[str, dict[str, Any]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def test_chat_sends_the_chosen_tools_and_shows_the_calls(dash: Dash, tools: Tools) -> None:
    tools.add(builtin="time", name="clock-chat")
    call(tools.agent, "GET", "/api/mcp/servers/clock-chat/tools", timeout=START_S / 1000)
    node = tools.agent.info["node_id"]
    arguments = {"timezone": "Europe/Paris"}
    recorded = sse(
        ("start", {"node_id": node, "model": MODEL_A}),
        ("tool_call", {"id": "c1", "round": 1, "server": "clock-chat", "tool": "get_current_time",
                       "arguments": arguments, "node_id": node}),
        ("tool_result", {"id": "c1", "round": 1, "server": "clock-chat",
                         "tool": "get_current_time", "is_error": False,
                         "text": '{"timezone": "Europe/Paris", "datetime": "12:00"}',
                         "duration_ms": 12.5}),
        ("tool_call", {"id": "c2", "round": 1, "server": "clock-chat", "tool": "convert_time",
                       "arguments": {}, "node_id": node}),
        ("tool_result", {"id": "c2", "round": 1, "server": "clock-chat", "tool": "convert_time",
                         "is_error": True, "text": "missing source_timezone",
                         "duration_ms": 3.0}),
        ("token", {"content": REPLY}),
        ("done", {"node_id": node, "model": MODEL_A, "completion_tokens": 5,
                  "tools": [{"server": "clock-chat", "tool": "get_current_time",
                             "is_error": False, "duration_ms": 12.5}]}),
    )  # fmt: skip
    page = dash.page
    page.route(
        "**/api/llm/chat",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=recorded),
    )
    session = call(tools.agent, "POST", "/api/llm/sessions", json={"title": "Time"}).json()
    dash.goto(f"/chat/{session['session_id']}")
    page.get_by_label("Model", exact=True).select_option(MODEL_A)
    selector = page.locator("details.chat-tools")
    expect(selector.locator("summary")).to_have_text("Tools: off")
    selector.locator("summary").click()
    choice = selector.locator('label[data-server="clock-chat"]')
    expect(choice).to_contain_text("get_current_time")
    choice.locator("input").check()
    expect(selector.locator("summary")).to_have_text("Tools: clock-chat")
    page.keyboard.press("Escape")
    page.get_by_label("Message", exact=True).fill("What time is it in Paris?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator('.msg[data-role="assistant"]').last
    expect(answer.locator(".msg-text")).to_have_text(REPLY)
    sent = [r for r in dash.requests if r.method == "POST" and r.url.endswith("/api/llm/chat")]
    assert json.loads(sent[-1].post_data)["mcp_servers"] == ["clock-chat"]

    calls = answer.locator("li.msg-tool")
    expect(calls).to_have_count(2)
    first, second = calls.nth(0), calls.nth(1)
    expect(first).to_have_attribute("data-state", "ok")
    expect(first.locator(".msg-tool-name")).to_have_text("clock-chat · get_current_time")
    expect(first.locator(".msg-tool-state")).to_have_text("ok · 13 ms")
    first.locator("summary").click()
    expect(first.locator("pre").first).to_have_text(json.dumps(arguments, indent=2))
    expect(first.locator("pre").nth(1)).to_contain_text('"datetime": "12:00"')
    expect(second).to_have_attribute("data-state", "error")
    expect(second.locator(".msg-tool-state")).to_have_text("ok · 3.0 ms".replace("ok", "error"))

    # "All servers" is remembered and sent as "all".
    selector.locator("summary").click()
    selector.get_by_label("All servers").check()
    expect(selector.locator("summary")).to_have_text("Tools: all servers")
    page.reload()
    expect(page.locator("details.chat-tools summary")).to_have_text("Tools: all servers")
    page.get_by_label("Model", exact=True).select_option(MODEL_A)
    page.get_by_label("Message", exact=True).fill("And now?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator('.msg[data-role="assistant"]').last.locator(".msg-text")).to_have_text(
        REPLY
    )
    sent = [r for r in dash.requests if r.method == "POST" and r.url.endswith("/api/llm/chat")]
    assert json.loads(sent[-1].post_data)["mcp_servers"] == "all"
    page.set_viewport_size(PHONE)
    dash.no_horizontal_scroll()
    dash.shot("tools-chat-phone")


def test_a_live_chat_runs_the_tool_the_model_calls(dash: Dash, tools: Tools) -> None:
    tools.add(builtin="time", name="clock-live")
    call(tools.agent, "GET", "/api/mcp/servers/clock-live/tools", timeout=START_S / 1000)
    tools.ollama.script_tool_calls(
        [{"name": "get_current_time", "arguments": {"timezone": "Europe/Paris"}}]
    )
    session = call(tools.agent, "POST", "/api/llm/sessions", json={"title": "Live"}).json()
    page = dash.page
    page.evaluate("() => localStorage.setItem('openfabric.chat.tools', '[\"clock-live\"]')")
    dash.goto(f"/chat/{session['session_id']}")
    expect(page.locator("details.chat-tools summary")).to_have_text("Tools: clock-live")
    page.get_by_label("Model", exact=True).select_option(MODEL_A)
    page.get_by_label("Message", exact=True).fill("What time is it in Paris?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator('.msg[data-role="assistant"]').last
    expect(answer.locator(".msg-text")).to_have_text(REPLY, timeout=START_S)
    item = answer.locator("li.msg-tool")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-state", "ok")
    expect(item.locator(".msg-tool-name")).to_have_text("clock-live · get_current_time")
    item.locator("summary").click()
    expect(item.locator("pre").nth(1)).to_contain_text("Europe/Paris")
    # The stored answer keeps which tools it used (not their arguments or results).
    page.reload()
    stored = page.locator('.msg[data-role="assistant"]').last.locator("li.msg-tool")
    expect(stored).to_have_count(1)
    expect(stored).to_have_attribute("data-state", "ok")
    expect(stored.locator(".msg-tool-name")).to_have_text("clock-live · get_current_time")
