"""`openfabric mcp builtins|servers|add|rm|toggle|tools|test` against one real agent with real
MCP servers (the PyPI time server over stdio, a process that exits at once, one given a
credential on stdin), and the usage errors caught before any request.

The agent is shared by the module: each test works on servers of its own name.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli.main import cli
from tests.cli.conftest import cli_env, invoke, invoke_agent
from tests.harness import AgentProcess, agent_process, call, wait_until

pytestmark = pytest.mark.timeout(240)
NAME = "potting-shed"
SECRET = "cli-secret-that-must-never-come-back"
EXITS_AT_ONCE = "import sys; sys.stderr.write('cannot start: no config\\n'); sys.exit(3)"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("mcp-cli") / "home", "--node-name", NAME) as a:
        yield a


def ok(agent: AgentProcess, *args: str) -> str:
    result = invoke_agent(agent, *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def refused(agent: AgentProcess, *args: str, code: int = 1) -> str:
    result = invoke_agent(agent, *args)
    assert result.exit_code == code, result.stdout
    assert result.stdout == ""
    return result.stderr


def server(agent: AgentProcess, name: str) -> dict[str, Any] | None:
    servers = call(agent, "GET", "/api/mcp/servers").json()["servers"]
    return next((s for s in servers if s["name"] == name), None)


def row_of(table: str, first: str) -> list[str]:
    (row,) = [line for line in table.splitlines() if line.split()[:1] == [first]]
    return row.split()


def test_builtins_table_and_formats(agent: AgentProcess) -> None:
    table = ok(agent, "mcp", "builtins")
    header = table.splitlines()[0].split()
    assert header == ["NAME", "TRANSPORT", "OPTIONS", "CREDENTIALS", "AVAILABLE", "DESCRIPTION"]
    assert row_of(table, "time")[1:5] == ["stdio", "-", "-", "yes"]
    assert row_of(table, "git")[2] == "repository*"
    assert (
        json.loads(ok(agent, "mcp", "builtins", "--format", "json"))
        == call(agent, "GET", "/api/mcp/builtins").json()
    )


def test_add_time_list_call_and_remove(agent: AgentProcess) -> None:
    added = ok(agent, "mcp", "add", "--builtin", "time", "--name", "clock")
    assert added == "added clock (stdio, stopped)\n"
    tools = ok(agent, "mcp", "tools", "clock")
    assert tools.splitlines()[0].split() == ["TOOL", "ARGUMENTS", "DESCRIPTION"]
    assert re.search(r"^get_current_time\s+timezone: string\*\s+\S", tools, re.M), tools
    servers = ok(agent, "mcp", "servers")
    assert servers.splitlines()[0].split() == [
        "NAME", "BUILTIN", "STATE", "RESTARTS", "TOOLS", "CREDENTIALS", "COMMAND/URL",
    ]  # fmt: skip
    count = len(call(agent, "GET", "/api/mcp/servers/clock/tools").json()["tools"])
    assert row_of(servers, "clock")[1:6] == ["time", "ready", "0", str(count), "-"]

    args = json.dumps({"timezone": "Europe/Paris"})
    answer = ok(agent, "mcp", "test", "clock", "--tool", "get_current_time", "--args", args)
    head, *body = answer.splitlines()
    assert re.fullmatch(r"clock · get_current_time: ok \(call [\d.]+ ms · total [\d.]+ ms\)", head)
    assert "Europe/Paris" in "\n".join(body)
    doc = json.loads(
        ok(agent, "mcp", "test", "clock", "--tool", "get_current_time", "--args", args,
           "--format", "json")
    )  # fmt: skip
    assert (doc["tool"], doc["result"]["is_error"]) == ("get_current_time", False)
    listing = ok(agent, "mcp", "test", "clock")
    assert re.search(r"^convert_time\s", listing, re.M)
    assert re.search(r"^call [\d.]+ ms · total [\d.]+ ms$", listing, re.M)

    everywhere = ok(agent, "mcp", "tools", "--all")
    assert everywhere.splitlines()[0].split() == ["SERVER", "NODE", "TOOL", "DESCRIPTION"]
    assert re.search(rf"^clock\s+{NAME}\s+get_current_time\s", everywhere, re.M), everywhere

    assert ok(agent, "mcp", "rm", "clock") == "removed clock\n"
    assert server(agent, "clock") is None
    again = refused(agent, "mcp", "rm", "clock")
    assert again.startswith("openfabric: ")
    assert "MCP_SERVER_NOT_FOUND" in again
    assert len(again.splitlines()) == 1


def test_toggle_off_on_and_flip(agent: AgentProcess) -> None:
    ok(agent, "mcp", "add", "--builtin", "time", "--name", "clock-toggle")
    assert ok(agent, "mcp", "toggle", "clock-toggle", "--off") == (
        "disabled clock-toggle (stdio, stopped, disabled)\n"
    )
    assert "MCP_SERVER_DISABLED" in refused(agent, "mcp", "tools", "clock-toggle")
    assert ok(agent, "mcp", "toggle", "clock-toggle").startswith("enabled clock-toggle (stdio, ")
    doc = yaml.safe_load(ok(agent, "mcp", "toggle", "clock-toggle", "--on", "--format", "yaml"))
    assert (doc["name"], doc["enabled"]) == ("clock-toggle", True)


def test_bad_tool_calls(agent: AgentProcess) -> None:
    ok(agent, "mcp", "add", "--builtin", "time", "--name", "clock-bad")
    assert "MCP_TOOL_NOT_FOUND" in refused(agent, "mcp", "test", "clock-bad", "--tool", "nope")
    error = refused(agent, "mcp", "test", "clock-bad", "--tool", "get_current_time", "--args", "{}")
    assert "MCP_TOOL_ARGUMENTS_INVALID" in error
    bad_json = refused(agent, "mcp", "test", "clock-bad", "--tool", "x", "--args", "{nope", code=2)
    assert "Invalid value for '--args': not valid JSON" in bad_json
    not_object = refused(agent, "mcp", "test", "clock-bad", "--tool", "x", "--args", "[1]", code=2)
    assert "must be a JSON object" in not_object
    assert "--args goes with --tool" in refused(
        agent, "mcp", "test", "clock-bad", "--args", "{}", code=2
    )
    assert "MCP_SERVER_NOT_FOUND" in refused(agent, "mcp", "tools", "no-such-server")


def test_a_server_that_exits_shows_why(agent: AgentProcess) -> None:
    added = ok(agent, "mcp", "add", "broken", "--command", sys.executable, "--arg", "-c",
               "--arg", EXITS_AT_ONCE)  # fmt: skip
    assert added == "added broken (stdio, stopped)\n"
    assert "MCP_SERVER_FAILED" in refused(agent, "mcp", "tools", "broken")
    wait_until(lambda: (server(agent, "broken") or {}).get("reason"), 30, "the failure's reason")
    state = row_of(ok(agent, "mcp", "servers"), "broken")[2]
    assert re.fullmatch(r"(failed|starting):", state), state


def test_a_credential_from_stdin_is_never_shown(agent: AgentProcess) -> None:
    result = CliRunner().invoke(
        cli,
        ["--url", agent.url, "mcp", "add", "vault", "--command", sys.executable,
         "--arg", "-V", "--env", "MODE=test", "--credential", "API_TOKEN=-", "--disabled"],
        env=cli_env(agent.home, agent.token),
        input=SECRET + "\n",
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "added vault (stdio, stopped, disabled)\n"
    assert SECRET not in result.output
    stored = server(agent, "vault")
    assert stored is not None
    assert (stored["credential_names"], stored["transport"]["env"]) == (
        ["API_TOKEN"],
        {"MODE": "test"},
    )
    row = " ".join(row_of(ok(agent, "mcp", "servers"), "vault"))
    assert row.startswith("vault - stopped, disabled 0 - API_TOKEN "), row
    for fmt in ("table", "json", "yaml"):
        assert SECRET not in ok(agent, "mcp", "servers", "--format", fmt)
    assert SECRET not in agent.log()
    empty = CliRunner().invoke(
        cli,
        ["--url", agent.url, "mcp", "add", "vault2", "--command", "x", "--credential", "K=-"],
        env=cli_env(agent.home, agent.token),
        input="",
    )
    assert empty.exit_code == 2
    assert "found no value on stdin" in empty.stderr
    assert server(agent, "vault2") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add"], "give the server's NAME"),
        (["add", "x"], "exactly one of --command (stdio) and --endpoint (http)"),
        (["add", "x", "--command", "c", "--endpoint", "http://h/mcp"], "exactly one of"),
        (
            ["add", "x", "--endpoint", "http://h/mcp", "--arg", "a"],
            "--arg, --env and --cwd go with",
        ),
        (["add", "x", "--command", "c", "--header", "A=b"], "--header goes with --endpoint"),
        (["add", "x", "--command", "c", "--env", "novalue"], "'novalue' is not NAME=VALUE"),
        (["add", "x", "--command", "c", "--option", "a=b"], "--option and --name go with"),
        (["add", "--builtin", "time", "--command", "c"], "--builtin takes only"),
        (["add", "a", "--builtin", "time", "--name", "b"], "give the name once"),
        (["tools"], "give a server NAME, or --all"),
    ],
)
def test_usage_errors_send_nothing(tmp_path: Any, args: list[str], message: str) -> None:
    # No agent at that URL: a usage error must be found before any request.
    result = invoke(["--url", "http://127.0.0.1:9", "mcp", *args], tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
