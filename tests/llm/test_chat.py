"""Chat, sessions and the OpenAI-compatible API against the Ollama double."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.ollama import FakeOllama, fake_ollama_process, serve_fake_ollama
from tests.harness import (
    LiveAgent,
    agent_processes,
    call,
    form_cluster,
    live_agent,
    make_settings,
    wait_until,
)

MODEL = "qwen2.5:0.5b"


@pytest.fixture
async def llm_agent(tmp_path: Path) -> AsyncIterator[tuple[LiveAgent, FakeOllama]]:
    fake = FakeOllama(models=[MODEL], reply_text="the quick brown fox jumps")
    async with (
        serve_fake_ollama(fake) as ollama,
        live_agent(make_settings(tmp_path, ollama_url=ollama.url)) as agent,
    ):
        async with agent.client() as client:
            deadline = asyncio.get_running_loop().time() + 10
            while not (await client.get("/api/llm/status")).json()["models"]:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
        yield agent, fake


async def sse(response) -> AsyncIterator[tuple[str, dict]]:
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event:
            yield event, json.loads(line[6:])


async def test_streamed_chat_then_stats(llm_agent) -> None:
    agent, fake = llm_agent
    async with (
        agent.client() as client,
        client.stream(
            "POST",
            "/api/llm/chat",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        ) as response,
    ):
        assert response.status_code == 200
        events = [e async for e in sse(response)]
    kinds = [k for k, _ in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "done"
    text = "".join(d["content"] for k, d in events if k == "token")
    assert text == "the quick brown fox jumps"
    done = events[-1][1]
    assert done["completion_tokens"] > 0
    assert done["time_to_first_token_ms"] is not None
    assert done["node_id"] == events[0][1]["node_id"]
    assert fake.last_chat["messages"][-1]["content"] == "hi"
    async with agent.client() as client:
        inference = (await client.get("/api/llm/inference/sessions")).json()["sessions"][0]
        assert inference["state"] == "done"
        assert inference["model"] == MODEL
        one = await client.get(f"/api/llm/inference/sessions/{inference['inference_id']}")
        assert one.json()["generated_tokens"] > 0


async def test_sessions_keep_the_conversation(llm_agent) -> None:
    agent, fake = llm_agent
    async with agent.client() as client:
        session = (await client.post("/api/llm/sessions", json={"title": "t"})).json()
        sid = session["session_id"]
        for message in ("first", "second"):
            answer = await client.post(
                "/api/llm/chat",
                json={"model": MODEL, "session_id": sid, "message": message, "stream": False},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["message"]["content"] == "the quick brown fox jumps"
        assert [m["content"] for m in fake.last_chat["messages"]] == [
            "first",
            "the quick brown fox jumps",
            "second",
        ]
        log = (await client.get(f"/api/llm/sessions/{sid}")).json()
        assert [m["role"] for m in log["messages"]] == ["user", "assistant"] * 2
        assert log["messages"][1]["stats"]["partial"] is False
        renamed = await client.put(f"/api/llm/sessions/{sid}/title", json={"title": "new"})
        assert renamed.json()["title"] == "new"
        listed = (await client.get("/api/llm/sessions")).json()
        assert listed["count"] == 1
        assert listed["sessions"][0]["message_count"] == 4
        assert (await client.delete(f"/api/llm/sessions/{sid}")).status_code == 200
        assert (await client.get(f"/api/llm/sessions/{sid}")).status_code == 404

        # Every change was announced, in order, so open dashboards follow it.
        changes = []
        query = {"topics": "llm.session", "last_event_id": 0}
        async with client.stream("GET", "/api/events", params=query) as stream:
            async for topic, data in sse(stream):
                if topic == "stream.replayed":
                    break
                if topic == "llm.session.changed":
                    changes.append((data["session_id"], data["change"]))
        assert changes == [
            (sid, "created"),
            (sid, "message"),
            (sid, "message"),
            (sid, "renamed"),
            (sid, "deleted"),
        ]


async def test_the_answer_is_in_the_session_when_done_arrives(llm_agent) -> None:
    agent, _ = llm_agent
    async with agent.client() as client:
        sid = (await client.post("/api/llm/sessions", json={})).json()["session_id"]
        for turn in range(1, 6):
            async with client.stream(
                "POST", "/api/llm/chat", json={"model": MODEL, "session_id": sid, "message": "hi"}
            ) as response:
                async for kind, _ in sse(response):
                    if kind == "done":
                        break
            # Read at once: the answer must already be stored when `done` arrives.
            messages = (await client.get(f"/api/llm/sessions/{sid}")).json()["messages"]
            assert len(messages) == 2 * turn
            assert messages[-1]["role"] == "assistant"


async def test_disconnect_mid_answer_keeps_what_was_said(llm_agent) -> None:
    agent, fake = llm_agent
    gate = fake.hold()
    async with agent.client() as client:
        sid = (await client.post("/api/llm/sessions", json={})).json()["session_id"]
        async with client.stream(
            "POST", "/api/llm/chat", json={"model": MODEL, "session_id": sid, "message": "hello"}
        ) as response:
            async for kind, _ in sse(response):
                if kind == "token":
                    break  # the client goes away after the first token
        # The agent stops the generation upstream as soon as its client has gone.
        await asyncio.wait_for(fake.aborted_event.wait(), 10)
        gate.set()

        async def stored() -> list[dict]:
            return (await client.get(f"/api/llm/sessions/{sid}")).json()["messages"]

        deadline = asyncio.get_running_loop().time() + 10
        while len(messages := await stored()) < 2:
            assert asyncio.get_running_loop().time() < deadline, "partial answer never stored"
            await asyncio.sleep(0.05)
    assert messages[1]["role"] == "assistant"
    assert messages[1]["content"]
    assert messages[1]["stats"]["partial"] is True


async def test_openai_package_against_v1(llm_agent) -> None:
    agent, _ = llm_agent
    client = openai.AsyncOpenAI(base_url=agent.url + "/v1", api_key=agent.token)
    models = await client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    answer = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "the quick brown fox jumps"
    assert answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    pieces = [c.choices[0].delta.content or "" async for c in stream]
    assert "".join(pieces) == "the quick brown fox jumps"
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(
            model="missing:1b", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.AuthenticationError):
        await openai.AsyncOpenAI(base_url=agent.url + "/v1", api_key="wrong").models.list()
    await client.close()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "use_memory": True,
                "memory": {"k": 0},
            },
            400,
            "VALIDATION_ERROR",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "memory": {"k": 2}},
            400,
            "VALIDATION_ERROR",
        ),
        (
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "mcp_servers": ["github"],
            },
            404,
            "MCP_SERVER_NOT_FOUND",
        ),
        (
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "mcp_servers": ["Not A Name"],
            },
            400,
            "VALIDATION_ERROR",
        ),
        (
            {"model": "missing:1b", "messages": [{"role": "user", "content": "x"}]},
            404,
            "MODEL_NOT_FOUND",
        ),
        ({"model": MODEL}, 400, "VALIDATION_ERROR"),
        (
            {"model": MODEL, "messages": [{"role": "robot", "content": "x"}]},
            400,
            "VALIDATION_ERROR",
        ),
        ({"model": MODEL, "session_id": "nope", "message": "x"}, 404, "SESSION_NOT_FOUND"),
        ({"model": 5, "messages": []}, 400, "VALIDATION_ERROR"),
    ],
)
async def test_bad_chat_requests(llm_agent, body: dict, status: int, code: str) -> None:
    agent, _ = llm_agent
    async with agent.client() as client:
        response = await client.post("/api/llm/chat", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error_code"] == code


@pytest.mark.slow
def test_chat_is_routed_to_the_node_with_the_model(tmp_path: Path) -> None:
    fake = FakeOllama(models=[MODEL], reply_text="from far away")
    with (
        fake_ollama_process(tmp_path / "b.json", fake) as remote_ollama,
        fake_ollama_process(tmp_path / "a.json", FakeOllama(models=[])) as local_ollama,
        agent_processes([tmp_path / "a"], "--ollama-url", local_ollama.url) as (a,),
        agent_processes([tmp_path / "b"], "--ollama-url", remote_ollama.url) as (b,),
    ):
        form_cluster([a, b])
        wait_until(
            lambda: call(a, "GET", "/api/llm/models").json()["count"] == 1,
            20,
            "the remote model in the catalog",
        )
        answer = call(
            a,
            "POST",
            "/api/llm/chat",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["message"]["content"] == "from far away"
        assert answer.json()["node_id"] == b.info["node_id"]


async def test_pull_streams_progress_and_adds_the_model(llm_agent) -> None:
    agent, _ = llm_agent
    async with agent.client() as client:
        async with client.stream(
            "POST", "/api/llm/pull", json={"model": "llama3.2:3b"}
        ) as response:
            assert response.status_code == 200
            events = [e async for e in sse(response)]
        kinds = [k for k, _ in events]
        assert kinds[-1] == "done"
        assert "progress" in kinds
        percents = [d["percent"] for k, d in events if k == "progress" and "percent" in d]
        assert percents
        assert percents[-1] == 100.0
        status = (await client.get("/api/llm/status")).json()
        assert "llama3.2:3b" in {m["name"] for m in status["models"]}
        async with client.stream(
            "POST", "/api/llm/pull", json={"model": "no-such-model:1b"}
        ) as response:
            failed = [e async for e in sse(response)]
        assert failed[-1][0] == "error"
        unknown = await client.post("/api/llm/pull", json={"model": "x", "node": "nope"})
        assert unknown.status_code == 422
        assert unknown.json()["error_code"] == "UNKNOWN_NODE"


@pytest.mark.slow
def test_pull_on_a_named_node(tmp_path: Path) -> None:
    with (
        fake_ollama_process(tmp_path / "b.json", FakeOllama(models=[])) as remote_ollama,
        fake_ollama_process(tmp_path / "a.json", FakeOllama(models=[])) as local_ollama,
        agent_processes([tmp_path / "a"], "--ollama-url", local_ollama.url) as (a,),
        agent_processes([tmp_path / "b"], "--ollama-url", remote_ollama.url) as (b,),
    ):
        form_cluster([a, b])
        body = {"model": MODEL, "node": b.info["node_id"]}
        with httpx.stream(
            "POST", a.url + "/api/llm/pull", json=body, headers=a.headers(), timeout=30
        ) as response:
            lines = [line for line in response.iter_lines() if line.startswith("event: ")]
        assert lines[-1] == "event: done"
        assert MODEL in {m["name"] for m in call(b, "GET", "/api/llm/status").json()["models"]}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/llm/sessions", {"title": ""}, 400, None),
        ("POST", "/api/llm/sessions", {"title": "x" * 201}, 400, None),
        ("POST", "/api/llm/sessions", {"title": 5}, 400, None),
        ("POST", "/api/llm/sessions", {"title": "t", "evil": 1}, 400, None),
        ("PUT", "/api/llm/sessions/nope/title", {"title": "t"}, 404, "SESSION_NOT_FOUND"),
        ("PUT", "/api/llm/sessions/{sid}/title", {"title": ""}, 400, None),
        ("PUT", "/api/llm/sessions/{sid}/title", [], 400, None),
        ("GET", "/api/llm/sessions/nope", None, 404, "SESSION_NOT_FOUND"),
        ("DELETE", "/api/llm/sessions/nope", None, 404, "SESSION_NOT_FOUND"),
    ],
)
async def test_bad_session_requests_change_nothing(
    llm_agent, method: str, path: str, body: object, status: int, code: str | None
) -> None:
    agent, _ = llm_agent
    async with agent.client() as client:
        sid = (await client.post("/api/llm/sessions", json={"title": "kept"})).json()["session_id"]
        response = await client.request(method, path.format(sid=sid), json=body)
        assert response.status_code == status, response.text
        error = response.json()
        assert error["success"] is False
        if code:
            assert error["error_code"] == code
        sessions = (await client.get("/api/llm/sessions")).json()["sessions"]
        assert [(s["session_id"], s["title"]) for s in sessions] == [(sid, "kept")]
