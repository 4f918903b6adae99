"""Chat with MCP tools end to end: a live agent, the Ollama double, and a real MCP server (the
SDK's, over stdio) configured through `POST /api/mcp/servers`."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent.client import AgentClient
from tests.fakes.ollama import FakeOllama, serve_fake_ollama
from tests.harness import live_agent, make_settings
from tests.llm.chat_stream import sse

pytestmark = pytest.mark.asyncio(loop_scope="module")
REPO = Path(__file__).resolve().parents[2]
MODEL = "qwen2.5:0.5b"
ANSWER = "Two and three make five."
SERVER = {
    "name": "calc",
    "transport": {
        "type": "stdio",
        "command": sys.executable,
        "args": ["-m", "tests.llm.mcp_tool_server"],
        "cwd": str(REPO),
    },
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    fake = FakeOllama(models=[MODEL], reply_text=ANSWER)
    home = tmp_path_factory.mktemp("chat-tools")
    async with (
        serve_fake_ollama(fake) as ollama,
        live_agent(make_settings(home, ollama_url=ollama.url)) as agent,
        agent.client(timeout=60) as client,
    ):
        added = await client.post("/api/mcp/servers", json=SERVER)
        assert added.status_code == 201, added.text
        deadline = time.monotonic() + 10
        while not (await client.get("/api/llm/status")).json()["models"]:
            assert time.monotonic() < deadline, "the agent never saw the double's models"
            await asyncio.sleep(0.05)
        yield agent, fake, client


@pytest.fixture(autouse=True)
def fresh(setup: Any) -> None:
    fake = setup[1]
    fake.tool_rounds.clear()
    fake.requests.clear()


def ask(**extra: Any) -> dict[str, Any]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "What is 2 + 3?"}]}
    return {**body, "mcp_servers": ["calc"], **extra}


def chats(fake: FakeOllama) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path == "/api/chat"]


async def test_the_servers_tool_is_called_and_its_result_fed_back(setup: Any) -> None:
    _, fake, client = setup
    fake.script_tool_calls(
        [{"name": "add", "arguments": {"a": 2, "b": 3}}, {"name": "add", "arguments": {"a": 2}}]
    )
    events = await sse(client, ask())
    assert [k for k, _ in events][:5] == [
        "start", "tool_call", "tool_call", "tool_result", "tool_result",
    ]  # fmt: skip
    assert events[-1][0] == "done"
    node_id = events[0][1]["node_id"]
    calls = [d for k, d in events if k == "tool_call"]
    assert [(c["server"], c["tool"], c["node_id"]) for c in calls] == [("calc", "add", node_id)] * 2
    ok, bad = [d for k, d in events if k == "tool_result"]
    assert (ok["text"], ok["is_error"]) == ("5", False)
    assert bad["is_error"]  # the schema wants b too: an error the model reads, not a crash
    first, second = chats(fake)
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert set(offered) == {"add", "lookup", "echo"}
    assert offered["add"]["parameters"]["required"] == ["a", "b"]
    fed = [m for m in second["messages"] if m["role"] == "tool"]
    assert fed[0] == {"role": "tool", "content": "5", "tool_name": "add"}
    assert fed[1]["content"].startswith("error: ")
    done = events[-1][1]
    assert done["content"] == ANSWER
    assert [t["is_error"] for t in done["tools"]] == [False, True]


async def test_all_servers_and_one_answer(setup: Any) -> None:
    _, fake, client = setup
    fake.script_tool_calls([{"name": "lookup", "arguments": {"key": "capital:pt"}}])
    response = await client.post("/api/llm/chat", json=ask(mcp_servers="all", stream=False))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["message"]["content"] == ANSWER
    assert [(t["server"], t["tool"], t["is_error"]) for t in answer["tools"]] == [
        ("calc", "lookup", False)
    ]
    tool_message = next(m for m in chats(fake)[-1]["messages"] if m["role"] == "tool")
    assert tool_message["content"] == "Lisbon"


async def test_an_unknown_server_is_refused_before_the_stream(setup: Any) -> None:
    _, fake, client = setup
    session = (await client.post("/api/llm/sessions", json={})).json()["session_id"]
    body = {"model": MODEL, "session_id": session, "message": "hi", "mcp_servers": ["nope"]}
    response = await client.post("/api/llm/chat", json=body)
    assert (response.status_code, response.json()["error_code"]) == (404, "MCP_SERVER_NOT_FOUND")
    assert chats(fake) == []
    detail = (await client.get(f"/api/llm/sessions/{session}")).json()
    assert detail["messages"] == []  # bad input changes nothing


async def test_the_sdk_streams_the_tool_events(setup: Any) -> None:
    agent, fake, _ = setup
    fake.script_tool_calls([{"name": "add", "arguments": {"a": 20, "b": 22}}])
    async with AgentClient(agent.url, agent.token) as sdk:
        ask_ = [{"role": "user", "content": "20 + 22?"}]
        events = [e async for e in sdk.chat(MODEL, ask_, mcp_servers=["calc"])]
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["start", "tool_call", "tool_result"]
    assert kinds[-1] == "done"
    assert events[2].data["text"] == "42"
    assert events[-1].data["tools"][0]["tool"] == "add"
