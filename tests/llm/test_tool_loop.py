"""The chat's tool loop (`mcp_servers`) against a live agent, the Ollama double and real MCP
servers reached through the SDK's client (`SdkToolbox`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from agent.llm.backend import OllamaBackend
from agent.llm.peer_routes import build_peer_routes
from tests.fakes.ollama import FakeOllama, catalog_model, serve_fake_ollama
from tests.harness import live_agent, make_settings
from tests.llm.chat_stream import sse
from tests.llm.mcp_tool_server import server as calc_server
from tests.llm.sdk_toolbox import SdkToolbox

pytestmark = pytest.mark.asyncio(loop_scope="module")
MODEL = "qwen2.5:0.5b"
ROUNDS = 2
ANSWER = "The sum is five."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    no_tools = catalog_model("llama3.2:3b", name="nocalls:1b")
    no_tools.capabilities = ["completion"]
    fake = FakeOllama(models=[MODEL, no_tools], reply_text=ANSWER)
    toolbox = SdkToolbox({"calc": calc_server, "calc2": calc_server})
    home = tmp_path_factory.mktemp("tool-loop")
    settings = make_settings(home, mcp_tool_rounds=ROUNDS, mcp_call_timeout=5.0)
    async with (
        serve_fake_ollama(fake) as ollama,
        live_agent(settings.replace(ollama_url=ollama.url)) as agent,
    ):
        agent.server.config.app.state.ctx.provide_tools(toolbox)
        async with agent.client() as client:

            async def models_known() -> bool:
                return len((await client.get("/api/llm/status")).json()["models"]) == 2

            deadline = time.monotonic() + 10
            while not await models_known():
                assert time.monotonic() < deadline, "the agent never saw the double's models"
                await asyncio.sleep(0.05)
        yield agent, fake, toolbox, ollama.url


@pytest.fixture(autouse=True)
def fresh(setup: Any) -> None:
    _, fake, toolbox, _ = setup
    fake.tool_rounds.clear()
    fake.requests.clear()
    toolbox.calls.clear()


def ask(text: str = "What is 2 + 3?", **extra: Any) -> dict[str, Any]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return {**body, "mcp_servers": ["calc"], **extra}


def chats(fake: FakeOllama) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path == "/api/chat"]


async def test_a_call_and_its_result_reach_the_model_and_the_stream(setup: Any) -> None:
    agent, fake, toolbox, _ = setup
    fake.script_tool_calls([{"name": "add", "arguments": {"a": 2, "b": 3}}])
    async with agent.client() as client:
        events = await sse(client, ask())
    kinds = [k for k, _ in events]
    assert kinds[0] == "start"
    assert kinds[1:3] == ["tool_call", "tool_result"]
    assert kinds[-1] == "done"
    assert set(kinds[3:-1]) == {"token"}
    call, result, done = events[1][1], events[2][1], events[-1][1]
    assert call == {
        "id": call["id"],
        "round": 1,
        "server": "calc",
        "tool": "add",
        "arguments": {"a": 2, "b": 3},
        "node_id": "n-local",
    }
    assert (result["id"], result["is_error"], result["text"]) == (call["id"], False, "5")
    assert done["content"] == ANSWER == "".join(d["content"] for k, d in events if k == "token")
    assert [(t["server"], t["tool"], t["is_error"]) for t in done["tools"]] == [
        ("calc", "add", False)
    ]
    assert toolbox.calls == [("calc", "add", {"a": 2, "b": 3}, 5.0)]
    first, second = chats(fake)
    assert {t["function"]["name"] for t in first["tools"]} == {"add", "lookup", "echo"}
    add = next(t for t in first["tools"] if t["function"]["name"] == "add")
    assert add["function"]["parameters"]["required"] == ["a", "b"]
    asked, answered = second["messages"][-2:]
    assert asked["role"] == "assistant"
    assert asked["tool_calls"] == [{"function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]
    assert answered == {"role": "tool", "content": "5", "tool_name": "add"}


async def test_unknown_tools_and_bad_arguments_come_back_as_results(setup: Any) -> None:
    agent, fake, toolbox, _ = setup
    fake.script_tool_calls(
        [
            {"name": "divide", "arguments": {"a": 1}},
            {"name": "add", "arguments": {"a": "two"}},
            {"name": "lookup", "arguments": {"key": "capital:pt"}},
        ]
    )
    async with agent.client() as client:
        events = await sse(client, ask())
    results = [d for k, d in events if k == "tool_result"]
    assert [(r["server"], r["tool"], r["is_error"]) for r in results] == [
        (None, "divide", True),
        ("calc", "add", True),
        ("calc", "lookup", False),
    ]
    assert "no tool named 'divide'" in results[0]["text"]
    assert "add" in results[0]["text"]  # the model is told what it can call
    assert "validation error" in results[1]["text"]
    assert results[2]["text"] == "Lisbon"
    assert [c[1] for c in toolbox.calls] == ["add", "lookup"]  # the unknown one never ran
    fed = [m for m in chats(fake)[-1]["messages"] if m["role"] == "tool"]
    assert [m["content"].startswith("error: ") for m in fed] == [True, True, False]
    assert events[-1][0] == "done"


async def test_the_rounds_bound_ends_with_an_answer_without_tools(setup: Any) -> None:
    agent, fake, _, _ = setup
    again = [{"name": "add", "arguments": {"a": 1, "b": 1}}]
    fake.tool_planner = lambda body: again  # a model that would call tools forever
    try:
        async with agent.client() as client:
            events = await sse(client, ask())
    finally:
        fake.tool_planner = None
    rounds = [d["round"] for k, d in events if k == "tool_call"]
    assert rounds == [1, 2]
    sent = chats(fake)
    assert len(sent) == ROUNDS + 1
    assert all(b.get("tools") for b in sent[:-1])
    assert not sent[-1].get("tools")
    assert events[-1][0] == "done"
    assert events[-1][1]["content"] == ANSWER


async def test_shared_names_are_qualified_and_all_offers_every_server(setup: Any) -> None:
    agent, fake, toolbox, _ = setup
    fake.script_tool_calls([{"name": "calc2__add", "arguments": {"a": 4, "b": 4}}])
    async with agent.client() as client:
        events = await sse(client, ask(mcp_servers="all"))
    offered = {t["function"]["name"] for t in chats(fake)[0]["tools"]}
    assert offered == {f"{s}__{t}" for s in ("calc", "calc2") for t in ("add", "lookup", "echo")}
    [call] = [d for k, d in events if k == "tool_call"]
    assert (call["server"], call["tool"]) == ("calc2", "add")
    assert toolbox.calls[0][:2] == ("calc2", "add")


async def test_stream_false_carries_the_tools(setup: Any) -> None:
    agent, fake, _, _ = setup
    fake.script_tool_calls([{"name": "add", "arguments": {"a": 2, "b": 3}}])
    async with agent.client() as client:
        response = await client.post("/api/llm/chat", json=ask(stream=False))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["message"]["content"] == ANSWER
    assert [(t["tool"], t["is_error"]) for t in answer["tools"]] == [("add", False)]
    # Both rounds' tokens count: the tool-call round generated some too.
    assert answer["completion_tokens"] > len(ANSWER.split())


async def test_a_session_keeps_the_answer_and_the_tools_used(setup: Any) -> None:
    agent, fake, _, _ = setup
    fake.script_tool_calls([{"name": "lookup", "arguments": {"key": "capital:fr"}}])
    async with agent.client() as client:
        session = (await client.post("/api/llm/sessions", json={})).json()["session_id"]
        body = {"model": MODEL, "session_id": session, "message": "Capital of France?"}
        await sse(client, {**body, "mcp_servers": ["calc"]})
        stored = (await client.get(f"/api/llm/sessions/{session}")).json()["messages"]
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Capital of France?"),
        ("assistant", ANSWER),
    ]
    assert [t["tool"] for t in stored[1]["stats"]["tools"]] == ["lookup"]


async def test_refusals_before_the_stream(setup: Any) -> None:
    agent, _, _, _ = setup
    async with agent.client() as client:
        unknown = await client.post("/api/llm/chat", json=ask(mcp_servers=["nope"]))
        bad_name = await client.post("/api/llm/chat", json=ask(mcp_servers=["Bad Name"]))
        too_many = await client.post(
            "/api/llm/chat", json=ask(mcp_servers=[f"s{i}" for i in range(33)])
        )
        cannot = await client.post("/api/llm/chat", json=ask(model="nocalls:1b"))
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "MCP_SERVER_NOT_FOUND")
    assert (bad_name.status_code, too_many.status_code) == (400, 400)
    assert (cannot.status_code, cannot.json()["error_code"]) == (400, "LLM_TOOLS_UNSUPPORTED")


async def test_generated_counts_every_round(setup: Any) -> None:
    agent, fake, _, _ = setup
    fake.script_tool_calls([{"name": "add", "arguments": {"a": 2, "b": 3}}])
    async with agent.client() as client:
        events = await sse(client, ask())
        inference = events[0][1]["inference_id"]
        record = (await client.get(f"/api/llm/inference/sessions/{inference}")).json()
    done = events[-1][1]
    assert record["generated_tokens"] == done["completion_tokens"]
    assert done["completion_tokens"] > len(ANSWER.split())


async def test_a_member_generates_with_the_callers_tools(setup: Any) -> None:
    """The executor side of a remote chat: `tools` go to its Ollama, and the model's calls
    come back as a `tool_calls` line."""
    agent, fake, _, url = setup
    backend = OllamaBackend(url)
    app = Starlette(routes=build_peer_routes(backend))
    app.state.settings = agent.settings
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    fake.script_tool_calls([{"name": "add", "arguments": {"a": 1, "b": 2}}])
    body = {"model": MODEL, "messages": [{"role": "user", "content": "1+2"}], "tools": tools}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://peer") as client:
            response = await client.post("/peer/llm/chat", json=body)
    finally:
        await backend.close()
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0] == {
        "type": "tool_calls",
        "calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}],
    }
    assert lines[-1]["type"] == "done"
    assert chats(fake)[-1]["tools"][0]["function"]["name"] == "add"
