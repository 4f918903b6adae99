"""Two subprocess agents in one cluster: a tool hosted on one member is listed in the
other's tools/all and called through the peer channel; credentials stay out of both logs;
shutdown leaves no server process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from agent.peer.identity import load_or_create_identity
from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import (
    AgentProcess,
    agent_process,
    agent_processes,
    call,
    form_cluster,
    join,
    online_count,
    signed_peer_post,
    wait_until,
)
from tests.mcp.kit import fake_server
from tests.mcp.test_stdio import group_alive

SECRET = "peer-secret-4471"
MODEL = "qwen2.5:0.5b"
REPLY = "Forty-two."
SHY = {"transport": fake_server()}


@dataclass
class Pair:
    host: AgentProcess
    asker: AgentProcess
    ollama: FakeOllamaProcess

    def __iter__(self) -> Iterator[AgentProcess]:
        return iter((self.host, self.asker))

    def __getitem__(self, index: int) -> AgentProcess:
        return (self.host, self.asker)[index]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("mcp-cluster")
    fake = FakeOllama(models=[MODEL], reply_text=REPLY)
    with (
        fake_ollama_process(base / "ollama.json", fake) as ollama,
        agent_processes([base / "a", base / "b"], "--ollama-url", ollama.url) as agents,
    ):
        form_cluster(agents)
        yield Pair(agents[0], agents[1], ollama)


def test_a_tool_on_another_member(pair: Pair) -> None:
    host, asker = pair
    created = call(
        host,
        "POST",
        "/api/mcp/servers",
        json={"name": "far", "transport": fake_server(), "credentials": {"API_TOKEN": SECRET}},
    )
    assert created.status_code == 201, created.text
    listed = call(asker, "GET", "/api/mcp/servers/tools/all", timeout=60)
    assert listed.status_code == 200, listed.text
    far = [t for t in listed.json()["tools"] if t["server"] == "far"]
    assert {t["name"] for t in far} >= {"add", "echo_env"}
    assert {t["node_id"] for t in far} == {host.info["node_id"]}
    assert listed.json()["unreachable"] == []
    assert call(asker, "GET", "/api/mcp/servers").json()["count"] == 0  # servers are per node
    assert SECRET not in listed.text


def test_the_peer_call_path(pair: Pair) -> None:
    host, asker = pair
    # The asker's own key signs, as its Toolbox does when the chat calls a remote tool.
    sender = load_or_create_identity(asker.home)
    ask = {"server": "far", "tool": "add", "arguments": {"a": 5, "b": 6}, "timeout": 10.0}
    answer = signed_peer_post(host, sender, "/peer/mcp/call", json.dumps(ask).encode())
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"] == "11"
    assert answer.json()["is_error"] is False
    bad = {**ask, "arguments": {"a": "x"}}
    refused = signed_peer_post(host, sender, "/peer/mcp/call", json.dumps(bad).encode())
    assert refused.json()["is_error"] is True
    assert "invalid arguments" in refused.json()["text"]
    hostile = signed_peer_post(host, sender, "/peer/mcp/call", b'{"server": "../x", "tool": 1}')
    assert hostile.status_code == 400


def test_a_chat_calls_a_tool_hosted_on_another_member(pair: Pair) -> None:
    """The asker's chat offers the host's tool to the model and runs the model's call on the
    host, through the Toolbox's peer path."""
    pair.ollama.script_tool_calls([{"name": "add", "arguments": {"a": 40, "b": 2}}])
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "What is 40 + 2?"}],
        "mcp_servers": ["far"],
        "stream": False,
    }
    wait_until(
        lambda: call(pair.asker, "GET", "/api/llm/status").json()["models"], 30, "the models"
    )
    answer = call(pair.asker, "POST", "/api/llm/chat", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["content"] == REPLY
    used = answer.json()["tools"]
    assert [(t["server"], t["tool"], t["is_error"]) for t in used] == [("far", "add", False)]
    # What the model was told: the tool's result, as computed on the host.
    last_chat = pair.ollama.stats()["last_chat"]
    fed_back = [m for m in last_chat["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in fed_back] == ["42"]


def test_a_member_that_does_not_share_its_tools(pair: Pair, tmp_path: Path) -> None:
    asker = pair[1]
    with agent_process(tmp_path / "closed", "--mcp-share-tools", "off") as closed:
        closed_id = closed.info["node_id"]
        try:
            assert join(closed, asker).status_code == 200
            wait_until(lambda: online_count(asker) == 3, 30, "the closed member online")
            made = call(closed, "POST", "/api/mcp/servers", json={"name": "shy", **SHY})
            assert made.status_code == 201, made.text
            listed = call(asker, "GET", "/api/mcp/servers/tools/all", timeout=60).json()
            assert closed_id not in {t["node_id"] for t in listed["tools"]}
            assert listed["unreachable"] == []
            sender = load_or_create_identity(asker.home)
            ask = {"server": "shy", "tool": "add", "arguments": {"a": 1, "b": 2}}
            refused = signed_peer_post(closed, sender, "/peer/mcp/call", json.dumps(ask).encode())
            assert refused.status_code == 403
            assert refused.json()["error_code"] == "MCP_TOOLS_NOT_SHARED"
            # Its own API still serves them.
            body = {"tool": "add", "arguments": {"a": 1, "b": 2}}
            tried = call(closed, "POST", "/api/mcp/servers/shy/test", json=body, timeout=60)
            assert tried.json()["result"]["text"] == "3", tried.text
        finally:
            call(asker, "DELETE", f"/api/nodes/{closed_id}")


def test_shutdown_leaves_no_process_and_no_secret_in_logs(pair: Pair) -> None:
    host = pair[0]
    call(
        host,
        "POST",
        "/api/mcp/servers/far/test",
        json={"tool": "echo_env", "arguments": {"name": "API_TOKEN"}},
    )
    servers = call(host, "GET", "/api/mcp/servers").json()["servers"]
    assert servers[0]["state"] == "ready"
    children = [
        p for p in psutil.Process(host.process.pid).children(recursive=True) if p.is_running()
    ]
    pgids = {os.getpgid(p.pid) for p in children}
    assert pgids
    host.stop()
    for pgid in pgids:
        assert not group_alive(pgid)
    for agent in pair:
        assert SECRET not in agent.log()
