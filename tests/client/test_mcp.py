"""The SDK's MCP calls against one real agent with real MCP servers (the PyPI time server
over stdio, a process that exits at once, one given a credential), and the exact requests
each call sends (httpx MockTransport).

The agent is shared by the module: each test works on servers of its own name.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from agent.client import AgentClient, ApiError
from agent.mcp.models import McpServer, ServerList
from tests.harness import AgentProcess, agent_process, async_wait_until, call

# Starting a server (a Python process importing the MCP SDK) takes seconds on a busy machine.
pytestmark = pytest.mark.timeout(240)
NAME = "workbench"
SECRET = "s3cret-value-that-must-never-come-back"
EXITS_AT_ONCE = ["-c", "import sys; sys.stderr.write('cannot start: no config\\n'); sys.exit(3)"]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("mcp-sdk") / "home", "--node-name", NAME) as a:
        yield a


@pytest.fixture
async def client(agent: AgentProcess) -> AsyncIterator[AgentClient]:
    async with AgentClient(agent.url, agent.token) as sdk:
        yield sdk


async def server_named(client: AgentClient, name: str) -> McpServer | None:
    return next((s for s in (await client.mcp_servers()).servers if s.name == name), None)


async def refused(status: int, code: str, call_: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call_
    assert (caught.value.status, caught.value.code) == (status, code), caught.value
    return caught.value


# --- against the agent ---------------------------------------------------------------------


async def test_builtins_say_what_they_need(client: AgentClient) -> None:
    listing = await client.mcp_builtins()
    builtins = {b.name: b for b in listing.builtins}
    assert {"time", "fetch", "git", "fabric", "filesystem"} <= set(builtins)
    assert listing.count == len(listing.builtins)
    assert builtins["time"].available
    assert builtins["time"].transport_type == "stdio"
    assert [o.name for o in builtins["git"].options if o.required] == ["repository"]
    for builtin in listing.builtins:
        assert builtin.available == all(need.present for need in builtin.needs)


async def test_the_time_builtin_lists_and_calls_its_tools(
    client: AgentClient, agent: AgentProcess
) -> None:
    added = await client.mcp_add_builtin("time", name="clock")
    assert (added.name, added.builtin, added.enabled, added.credential_names) == (
        "clock", "time", True, [],
    )  # fmt: skip
    assert added.node_id == agent.info["node_id"]
    listed = await client.mcp_tools("clock")
    assert (listed.server, listed.node_id) == ("clock", agent.info["node_id"])
    names = {tool.name for tool in listed.tools}
    assert {"get_current_time", "convert_time"} <= names
    assert listed.count == len(listed.tools)
    schema = next(t for t in listed.tools if t.name == "get_current_time").input_schema
    assert "timezone" in schema["properties"]
    server = await server_named(client, "clock")
    assert server is not None
    assert (server.state, server.tool_count, server.reason) == ("ready", len(listed.tools), None)
    assert server.server_info is not None

    answer = await client.mcp_test("clock", "get_current_time", {"timezone": "Europe/Paris"})
    assert (answer.server, answer.tool, answer.tools) == ("clock", "get_current_time", None)
    assert answer.result is not None
    assert not answer.result.is_error
    assert "Europe/Paris" in answer.result.text
    assert answer.timings.start_ms is None  # already running
    assert 0 <= answer.timings.call_ms <= answer.timings.total_ms

    listing = await client.mcp_test("clock")
    assert listing.result is None
    assert {t.name for t in listing.tools or []} == names


async def test_bad_tool_calls_are_refused(client: AgentClient) -> None:
    await client.mcp_add_builtin("time", name="clock-bad")
    await refused(404, "MCP_TOOL_NOT_FOUND", client.mcp_test("clock-bad", "no_such_tool", {}))
    error = await refused(
        400, "MCP_TOOL_ARGUMENTS_INVALID", client.mcp_test("clock-bad", "get_current_time", {})
    )
    assert error.details
    await refused(404, "MCP_SERVER_NOT_FOUND", client.mcp_tools("no-such-server"))
    await refused(404, "MCP_SERVER_NOT_FOUND", client.mcp_test("no-such-server"))


async def test_duplicates_and_bad_definitions_change_nothing(client: AgentClient) -> None:
    await client.mcp_add_builtin("time", name="clock-dup")
    before = await client.mcp_servers()
    await refused(409, "MCP_SERVER_EXISTS", client.mcp_add_builtin("time", name="clock-dup"))
    await refused(400, "MCP_BUILTIN_UNKNOWN", client.mcp_add_builtin("no-such-builtin"))
    with pytest.raises(ApiError) as caught:
        await client.mcp_add("Bad Name", command=sys.executable)
    assert caught.value.status == 400
    with pytest.raises(ApiError) as caught:
        await client.mcp_add("badurl", url="ftp://example.org/mcp")
    assert caught.value.status == 400
    with pytest.raises(ApiError) as caught:
        await client.mcp_add_builtin("git", name="git-no-repo")
    assert caught.value.status == 400
    assert await client.mcp_servers() == before


async def test_toggle_stops_and_starts_again(client: AgentClient) -> None:
    await client.mcp_add_builtin("time", name="clock-toggle")
    await client.mcp_tools("clock-toggle")
    off = await client.mcp_toggle("clock-toggle", False)
    assert (off.enabled, off.state) == (False, "stopped")
    await refused(409, "MCP_SERVER_DISABLED", client.mcp_tools("clock-toggle"))
    flipped = await client.mcp_toggle("clock-toggle")
    assert flipped.enabled
    assert {t.name for t in (await client.mcp_tools("clock-toggle")).tools} >= {"convert_time"}
    again = await client.mcp_toggle("clock-toggle", True)
    assert again.enabled
    await refused(404, "MCP_SERVER_NOT_FOUND", client.mcp_toggle("no-such-server"))


async def test_a_server_that_exits_says_why(client: AgentClient, agent: AgentProcess) -> None:
    added = await client.mcp_add("broken", command=sys.executable, args=EXITS_AT_ONCE)
    assert (added.transport.type, added.state) == ("stdio", "stopped")
    error = await refused(503, "MCP_SERVER_FAILED", client.mcp_tools("broken"))
    assert str(error)

    def failed() -> bool:
        servers = call(agent, "GET", "/api/mcp/servers").json()["servers"]
        return any(s["name"] == "broken" and s["reason"] for s in servers)

    await async_wait_until(failed, 30, "the failed server's reason")
    server = await server_named(client, "broken")
    assert server is not None
    assert server.state in ("failed", "starting")
    assert server.tool_count is None
    assert any("cannot start: no config" in line for line in server.stderr_tail)


async def test_credentials_are_never_answered(client: AgentClient, agent: AgentProcess) -> None:
    added = await client.mcp_add(
        "with-secret",
        command=sys.executable,
        args=["-c", "import os; print(os.environ['API_TOKEN'])"],
        env={"LOG_LEVEL": "debug"},
        credentials={"API_TOKEN": SECRET},
        enabled=False,
        description="holds a credential",
    )
    assert added.credential_names == ["API_TOKEN"]
    assert added.transport.type == "stdio"
    assert added.transport.env == {"LOG_LEVEL": "debug"}
    assert (added.enabled, added.description) == (False, "holds a credential")
    listing = await client.mcp_servers()
    assert isinstance(listing, ServerList)
    assert SECRET not in json.dumps(listing.model_dump(mode="json"))
    for path in ("/api/mcp/servers", "/api/mcp/servers/tools/all"):
        assert SECRET not in call(agent, "GET", path).text
    assert SECRET not in agent.log()


async def test_all_tools_name_the_hosting_node(client: AgentClient, agent: AgentProcess) -> None:
    await client.mcp_add_builtin("time", name="clock-all")
    found = await client.mcp_all_tools()
    mine = [t for t in found.tools if t.server == "clock-all"]
    assert {t.name for t in mine} >= {"get_current_time", "convert_time"}
    assert {(t.node_id, t.node_name) for t in mine} == {(agent.info["node_id"], NAME)}
    assert found.count == len(found.tools)
    assert found.unreachable == []


async def test_remove_then_remove_again(client: AgentClient) -> None:
    await client.mcp_add_builtin("time", name="clock-rm")
    await client.mcp_tools("clock-rm")
    removed = await client.mcp_remove("clock-rm")
    assert (removed.name, removed.deleted) == ("clock-rm", True)
    assert await server_named(client, "clock-rm") is None
    await refused(404, "MCP_SERVER_NOT_FOUND", client.mcp_remove("clock-rm"))


# --- the requests sent ---------------------------------------------------------------------

SERVER: dict[str, Any] = {
    "name": "n/a", "description": "", "builtin": None, "credential_names": [], "enabled": True,
    "node_id": "n1", "state": "stopped", "reason": None, "restarts": 0, "next_restart_at": None,
    "tool_count": None, "server_info": None, "started_at": None, "stderr_tail": [],
    "transport": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {}},
}  # fmt: skip
TEST_ANSWER: dict[str, Any] = {
    "server": "n/a", "node_id": "n1", "tool": "t", "tools": None,
    "result": {"text": "ok", "is_error": False, "structured": None, "content": []},
    "timings": {"start_ms": None, "call_ms": 1.0, "total_ms": 1.5},
}  # fmt: skip


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
async def mocked(sent: list[httpx.Request]) -> AsyncIterator[AgentClient]:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/test"):
            return httpx.Response(200, json=TEST_ANSWER)
        if request.method == "DELETE":
            return httpx.Response(200, json={"name": "n/a", "deleted": True})
        return httpx.Response(201, json=SERVER)

    transport = httpx.MockTransport(answer)
    async with AgentClient("http://agent.test", "tok", transport=transport) as sdk:
        yield sdk


def body(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


async def test_add_sends_the_definition(mocked: AgentClient, sent: list[httpx.Request]) -> None:
    await mocked.mcp_add("notes", command="python3", args=("-m", "x"), env={"K": "v"}, cwd="/srv")
    await mocked.mcp_add("web", url="http://127.0.0.1:9/mcp", headers={"X-Team": "a"},
                         credentials={"Authorization": "Bearer t"}, enabled=False)  # fmt: skip
    await mocked.mcp_add_builtin("git", options={"repository": "/src"}, credentials={"T": "x"})
    await mocked.mcp_add_builtin("time", name="clock", enabled=False)
    assert [(r.method, r.url.path) for r in sent] == [("POST", "/api/mcp/servers")] * 4
    assert [body(r) for r in sent] == [
        {"name": "notes", "transport": {"type": "stdio", "command": "python3", "args": ["-m", "x"],
         "env": {"K": "v"}, "cwd": "/srv"}, "enabled": True, "credentials": {}, "description": ""},
        {"name": "web", "transport": {"type": "http", "url": "http://127.0.0.1:9/mcp",
         "headers": {"X-Team": "a"}}, "enabled": False,
         "credentials": {"Authorization": "Bearer t"}, "description": ""},
        {"builtin": "git", "enabled": True, "options": {"repository": "/src"},
         "credentials": {"T": "x"}},
        {"builtin": "time", "enabled": False, "name": "clock"},
    ]  # fmt: skip
    assert sent[0].headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize(("command", "url"), [(None, None), ("python3", "http://h/mcp")])
async def test_add_needs_exactly_one_transport(
    mocked: AgentClient, sent: list[httpx.Request], command: str | None, url: str | None
) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await mocked.mcp_add("x", command=command, url=url)
    assert sent == []


async def test_names_are_quoted_and_bodies_exact(
    mocked: AgentClient, sent: list[httpx.Request]
) -> None:
    await mocked.mcp_toggle("a/b")
    await mocked.mcp_toggle("a", False)
    await mocked.mcp_test("a", "t", {"x": 1})
    await mocked.mcp_test("a")
    await mocked.mcp_remove("a b")
    assert [(r.method, r.url.raw_path.decode()) for r in sent] == [
        ("PUT", "/api/mcp/servers/a%2Fb/toggle"),
        ("PUT", "/api/mcp/servers/a/toggle"),
        ("POST", "/api/mcp/servers/a/test"),
        ("POST", "/api/mcp/servers/a/test"),
        ("DELETE", "/api/mcp/servers/a%20b"),
    ]
    assert [body(r) for r in sent[:4]] == [
        None, {"enabled": False}, {"tool": "t", "arguments": {"x": 1}}, {},
    ]  # fmt: skip
    with pytest.raises(ValueError, match="arguments go with a tool"):
        await mocked.mcp_test("a", arguments={"x": 1})
