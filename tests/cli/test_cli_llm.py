"""`openfabric llm ...` against one real agent whose Ollama is the fake one (a subprocess).

The agent and its Ollama are shared by the module: tests that change the models (pull, rm)
touch models of their own, and the chat tests only count on the one model they use.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from tests.cli.conftest import cli_env, free_port, invoke_agent
from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import AgentProcess, agent_process, call, wait_until

pytestmark = pytest.mark.timeout(120)
MODEL = "qwen2.5:0.5b"
DOOMED = "llama3.1:8b"  # removed by the rm test
PULLED = "llama3.2:3b"  # in the fake registry, not on the node at first
REPLY = "the quick brown fox jumps"
REPO = Path(__file__).resolve().parents[2]
TOOLS = "add, echo, lookup"  # tests/llm/mcp_tool_server.py's, as the model is told them


@pytest.fixture(scope="module")
def ollama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeOllamaProcess]:
    fake = FakeOllama(models=[MODEL, DOOMED], reply_text=REPLY)
    with fake_ollama_process(tmp_path_factory.mktemp("ollama") / "state.json", fake) as proc:
        yield proc


@pytest.fixture(scope="module")
def agent(
    tmp_path_factory: pytest.TempPathFactory, ollama: FakeOllamaProcess
) -> Iterator[AgentProcess]:
    home = tmp_path_factory.mktemp("llm") / "agent-home"
    with agent_process(home, "--ollama-url", ollama.url) as started:
        wait_until(lambda: local_models(started), 20, "the agent to see Ollama's models")
        yield started


def local_models(agent: AgentProcess) -> list[str]:
    return [m["name"] for m in call(agent, "GET", "/api/llm/status").json()["models"]]


def node_name(agent: AgentProcess) -> str:
    return str(call(agent, "GET", "/api/status").json()["node_name"])


def invoke_input(agent: AgentProcess, text: str, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["--url", agent.url, *args],
        input=text,
        env=cli_env(agent.home, agent.token),
        catch_exceptions=False,
    )


def session_of(agent: AgentProcess, session_id: str) -> dict[str, Any]:
    response = call(agent, "GET", f"/api/llm/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- status and models ---------------------------------------------------------------------


def test_status_table_and_json(agent: AgentProcess, ollama: FakeOllamaProcess) -> None:
    table = invoke_agent(agent, "llm", "status")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert re.fullmatch(rf"Ollama URL\s+{re.escape(ollama.url)}", lines[1])
    assert re.fullmatch(r"State\s+up", lines[2])
    assert re.fullmatch(r"Version\s+0\.6\.5", lines[3])
    assert re.search(r"^MODEL\s+SIZE\s+FAMILY\s+PARAMS\s+QUANT\s+CONTEXT$", table.stdout, re.M)
    row = next(line for line in lines if line.startswith(MODEL))
    assert row.split() == [MODEL, "379.4", "MiB", "qwen2", "494.03M", "Q4_K_M", "32768"]
    assert "no model loaded" in table.stdout

    body = json.loads(invoke_agent(agent, "llm", "status", "--format", "json").stdout)
    assert (body["up"], body["reason"], body["ollama_url"]) == (True, None, ollama.url)
    assert MODEL in [m["name"] for m in body["models"]]


def test_models_table_shows_nodes_and_plan(agent: AgentProcess) -> None:
    table = invoke_agent(agent, "llm", "models")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "SIZE", "QUANT", "NODES", "PLAN"]
    name = node_name(agent)
    row = next(line for line in lines if line.startswith(MODEL))
    assert re.fullmatch(
        rf"{re.escape(MODEL)}\s+379\.4 MiB\s+Q4_K_M\s+{re.escape(name)}\s+fits: {re.escape(name)}",
        row,
    )

    body = json.loads(invoke_agent(agent, "llm", "models", "--format", "json").stdout)
    model = next(m for m in body["models"] if m["name"] == MODEL)
    assert model["nodes"] == [{"node_id": agent.info["node_id"], "name": name, "state": "online"}]
    assert model["plan"]["verdict"] == "single_node"


def test_a_down_ollama_says_why(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with agent_process(tmp_path / "agent-home", "--ollama-url", dead) as lonely:
        status = invoke_agent(lonely, "llm", "status")
        assert status.exit_code == 0, status.stderr
        assert re.search(r"State\s+down: connection refused", status.stdout)
        removed = invoke_agent(lonely, "llm", "rm", MODEL)
        assert removed.exit_code == 1
        assert removed.stderr.endswith("(LLM_BACKEND_UNAVAILABLE)\n")
        models = invoke_agent(lonely, "llm", "models")
        assert models.stdout.startswith("no models in the cluster")


# --- chat ----------------------------------------------------------------------------------


def test_chat_with_a_prompt_streams_the_answer(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "llm", "chat", MODEL, "-p", "tell me about foxes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == REPLY + "\n"
    name = re.escape(node_name(agent))
    pattern = rf"\[{name}\] \d+ tokens, [\d.]+ tokens/s, first token after \d+ ms\n"
    assert re.fullmatch(pattern, result.stderr)

    quiet = invoke_agent(agent, "llm", "chat", MODEL, "-p", "again", "--quiet")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, REPLY + "\n", "")


def test_chat_json_gives_the_answer_and_stats(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "llm", "chat", MODEL, "-p", "hi", "--format", "json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["content"] == REPLY
    assert (body["model"], body["node_id"]) == (MODEL, agent.info["node_id"])
    assert body["completion_tokens"] > 0
    assert result.stderr == ""


def test_chat_reads_the_prompt_from_stdin(agent: AgentProcess) -> None:
    result = invoke_input(agent, "a question\n", "llm", "chat", MODEL, "-p", "-", "-q")
    assert (result.exit_code, result.stdout) == (0, REPLY + "\n"), result.stderr


def test_chat_with_an_unknown_model_fails(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "llm", "chat", "nope:1b", "-p", "hi")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("openfabric: no node in the cluster has the model nope:1b")
    assert result.stderr.endswith("(MODEL_NOT_FOUND)\n")


def test_chat_in_an_unknown_session_fails(agent: AgentProcess) -> None:
    for prompt in (["-p", "hi"], []):  # one question, or the interactive chat
        result = invoke_input(agent, "hi\n", "llm", "chat", MODEL, *prompt, "--session", "s-x")
        assert result.exit_code == 1
        assert result.stderr.endswith("(SESSION_NOT_FOUND)\n")
    both = invoke_agent(agent, "llm", "chat", MODEL, "--session", "s1", "--new-session")
    assert both.exit_code == 2
    assert "either --session or --new-session" in both.stderr


@pytest.fixture(scope="module")
def calc(agent: AgentProcess) -> str:
    """A real MCP server (the SDK's, over stdio) on the agent; its name."""
    server = {
        "name": "calc",
        "transport": {
            "type": "stdio",
            "command": sys.executable,
            "args": ["-m", "tests.llm.mcp_tool_server"],
            "cwd": str(REPO),
        },
    }
    added = call(agent, "POST", "/api/mcp/servers", json=server)
    assert added.status_code == 201, added.text
    return "calc"


def test_chat_with_tools_notes_each_call_and_result(
    agent: AgentProcess, ollama: FakeOllamaProcess, calc: str
) -> None:
    ollama.script_tool_calls(
        [{"name": "add", "arguments": {"a": 2, "b": 3}}, {"name": "nope", "arguments": {}}]
    )
    result = invoke_agent(agent, "llm", "chat", MODEL, "-p", "2 + 3?", "--tools", calc)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == REPLY + "\n"
    lines = result.stderr.splitlines()
    assert lines[:4] == [
        '→ calc.add {"a": 2, "b": 3}',
        "→ ?.nope {}",
        "← calc.add: 5",
        f"← ?.nope failed: error: there is no tool named 'nope'; the tools are: {TOOLS}",
    ]
    assert lines[4].startswith(f"[{node_name(agent)}] ")
    last = ollama.stats()["last_chat"]
    assert [m["role"] for m in last["messages"]] == ["user", "assistant", "tool", "tool"]


def test_chat_with_all_tools_in_json(
    agent: AgentProcess, ollama: FakeOllamaProcess, calc: str
) -> None:
    ollama.script_tool_calls([{"name": "lookup", "arguments": {"key": "capital:fr"}}])
    args = ("llm", "chat", MODEL, "-p", "capital?", "--tools", "all", "--format", "json", "-q")
    result = invoke_agent(agent, *args)
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert [(t["server"], t["tool"], t["is_error"]) for t in body["tools"]] == [
        (calc, "lookup", False)
    ]
    assert result.stderr == ""


def test_chat_with_tools_of_an_unknown_server_fails(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "llm", "chat", MODEL, "-p", "hi", "--tools", "calc,missing")
    assert result.exit_code == 1
    assert result.stderr.endswith("(MCP_SERVER_NOT_FOUND)\n")
    empty = invoke_agent(agent, "llm", "chat", MODEL, "-p", "hi", "--tools", " , ")
    assert empty.exit_code == 2
    assert "name at least one MCP server" in empty.stderr


def test_a_prompt_kept_in_a_new_session_can_be_continued(agent: AgentProcess) -> None:
    first = invoke_agent(agent, "llm", "chat", MODEL, "-p", "first question", "--new-session")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == REPLY + "\n"
    session_id = re.match(r"session (s[0-9a-f]+)\n", first.stderr)[1]  # type: ignore[index]
    second = invoke_agent(agent, "llm", "chat", MODEL, "-p", "go on", "--session", session_id)
    assert second.exit_code == 0, second.stderr

    session = session_of(agent, session_id)
    assert session["title"] == "first question"
    said = [(m["role"], m["content"]) for m in session["messages"]]
    assert said == [
        ("user", "first question"),
        ("assistant", REPLY),
        ("user", "go on"),
        ("assistant", REPLY),
    ]


def test_interactive_chat_keeps_a_session(agent: AgentProcess) -> None:
    result = invoke_input(agent, "hello\n\n/exit\n", "llm", "chat", MODEL)
    assert result.exit_code == 0, result.stderr
    assert REPLY + "\n" in result.stdout
    assert result.stdout.count(">>> ") == 3  # hello, the empty line, /exit
    found = re.search(rf"chatting with {re.escape(MODEL)} in session (s[0-9a-f]+)", result.stderr)
    assert found, result.stderr
    session = session_of(agent, found[1])
    assert session["message_count"] == 2
    assert [(m["role"], m["content"]) for m in session["messages"]] == [
        ("user", "hello"),
        ("assistant", REPLY),
    ]
    assert f"--session {found[1]}' resumes it" in result.stderr

    # Ctrl-D ends it too, and --session resumes the same conversation.
    again = invoke_input(agent, "more\n", "llm", "chat", MODEL, "--session", found[1])
    assert again.exit_code == 0, again.stderr
    assert f"resuming session {found[1]} (2 messages)" in again.stderr
    assert session_of(agent, found[1])["message_count"] == 4


def test_interactive_chat_reports_errors_and_goes_on(agent: AgentProcess) -> None:
    result = invoke_input(agent, "hello\nstill there?\n/exit\n", "llm", "chat", "nope:1b")
    assert result.exit_code == 0
    assert result.stderr.count("(MODEL_NOT_FOUND)") == 2
    assert REPLY not in result.stdout


# --- sessions ------------------------------------------------------------------------------


def test_sessions_list_show_rename_rm(agent: AgentProcess) -> None:
    chat = invoke_agent(agent, "llm", "chat", MODEL, "-p", "about sessions", "--new-session")
    assert chat.exit_code == 0, chat.stderr
    session_id = re.match(r"session (s[0-9a-f]+)\n", chat.stderr)[1]  # type: ignore[index]

    listing = invoke_agent(agent, "llm", "sessions", "list")
    assert listing.exit_code == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["SESSION", "TITLE", "MODEL", "MESSAGES", "UPDATED"]
    row = next(line for line in lines if line.startswith(session_id))
    assert re.fullmatch(rf"{session_id}\s+about sessions\s+{re.escape(MODEL)}\s+2\s+\d+s ago", row)
    body = json.loads(invoke_agent(agent, "llm", "sessions", "list", "--format", "json").stdout)
    assert body["count"] == len(body["sessions"]) >= 1
    assert body["sessions"][0]["session_id"] == session_id  # most recent first

    shown = invoke_agent(agent, "llm", "sessions", "show", session_id)
    assert shown.exit_code == 0, shown.stderr
    assert re.search(r"Messages\s+2\n", shown.stdout)
    assert shown.stdout.endswith(f"user:\nabout sessions\n\nassistant:\n{REPLY}\n")

    renamed = invoke_agent(agent, "llm", "sessions", "rename", session_id, "foxes")
    assert (renamed.exit_code, renamed.stdout) == (0, f"renamed {session_id}: foxes\n")

    removed = invoke_agent(agent, "llm", "sessions", "rm", session_id)
    assert (removed.exit_code, removed.stdout) == (0, f"deleted session {session_id}\n")
    assert call(agent, "GET", f"/api/llm/sessions/{session_id}").status_code == 404
    for args in (["rm", session_id], ["show", session_id]):
        gone = invoke_agent(agent, "llm", "sessions", *args)
        assert gone.exit_code == 1
        assert gone.stderr.endswith("(SESSION_NOT_FOUND)\n")


# --- pull and rm ---------------------------------------------------------------------------


def test_pull_then_status_lists_the_model(agent: AgentProcess) -> None:
    assert PULLED not in local_models(agent)
    name = node_name(agent)
    result = invoke_agent(agent, "llm", "pull", PULLED, "--node", name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"pulled {PULLED} on {name}\n"
    assert result.stderr == ""  # no meter: stderr is not a terminal
    wait_until(lambda: PULLED in local_models(agent), 10, f"{PULLED} in the status")
    status = invoke_agent(agent, "llm", "status")
    assert any(line.startswith(PULLED) for line in status.stdout.splitlines())


def test_pull_failures_exit_1(agent: AgentProcess) -> None:
    unknown = invoke_agent(agent, "llm", "pull", "nope:1b")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("openfabric: ")
    assert re.search(r"\([A-Z_]+\)\n$", unknown.stderr), unknown.stderr
    assert "nope:1b" not in local_models(agent)

    nowhere = invoke_agent(agent, "llm", "pull", PULLED, "--node", "no-such-node")
    assert nowhere.exit_code == 1
    assert nowhere.stderr.endswith("(UNKNOWN_NODE)\n")


def test_rm_removes_the_model(agent: AgentProcess) -> None:
    assert DOOMED in local_models(agent)
    result = invoke_agent(agent, "llm", "rm", DOOMED)
    assert (result.exit_code, result.stdout) == (0, f"deleted {DOOMED}\n"), result.stderr
    status = invoke_agent(agent, "llm", "status")
    assert not any(line.startswith(DOOMED) for line in status.stdout.splitlines())
    assert DOOMED not in local_models(agent)

    again = invoke_agent(agent, "llm", "rm", DOOMED, "--format", "json")
    assert again.exit_code == 1
    assert again.stderr.endswith("(MODEL_NOT_FOUND)\n")
