"""The SDK's chat and session calls without an agent (httpx MockTransport): the chat event
stream and its errors, one-answer chats, sessions, and answers of the wrong shape."""

from __future__ import annotations

import json

import httpx
import pytest

from agent.client import (
    AgentClient,
    AgentUnavailable,
    ApiError,
    ChatAnswer,
    ChatEvent,
    ChatSession,
    ChatSessionDetail,
    ClientError,
    SessionDeleted,
    SessionList,
)
from tests.client.llm_answers import (
    DONE,
    NODE,
    SESSION,
    Recorder,
    answering,
    by_path,
    error,
    streaming,
)


async def test_chat_streams_start_tokens_done() -> None:
    start = {"session_id": None, "node_id": NODE, "inference_id": "i1", "model": "qwen2.5:0.5b"}
    recorder = streaming(
        ("start", start),
        ("token", {"content": "hello"}),
        ("token", {"content": " there"}),
        ("done", DONE),
    )
    messages = [{"role": "user", "content": "hi"}]
    async with recorder.client() as client:
        events = [e async for e in client.chat("qwen2.5:0.5b", messages, options={"seed": 1})]
    assert recorder.body == {
        "model": "qwen2.5:0.5b",
        "options": {"seed": 1},
        "stream": True,
        "messages": messages,
    }
    assert events == [
        ChatEvent("start", data=start),
        ChatEvent("token", "hello", {"content": "hello"}),
        ChatEvent("token", " there", {"content": " there"}),
        ChatEvent("done", "hello there", DONE),
    ]


async def test_chat_in_a_session_sends_the_message_only() -> None:
    recorder = streaming(("done", DONE))
    async with recorder.client() as client:
        [e async for e in client.chat("m", session_id="s1", message="and then?")]
    assert recorder.body == {
        "model": "m",
        "options": {},
        "stream": True,
        "session_id": "s1",
        "message": "and then?",
    }


async def test_a_chat_error_event_raises_after_the_tokens() -> None:
    recorder = streaming(
        ("token", {"content": "hal"}),
        ("error", {"error": "Ollama went away", "error_code": "LLM_GENERATION_FAILED"}),
    )
    tokens = []

    async def chat(client: AgentClient) -> None:
        async for event in client.chat("m", [{"role": "user", "content": "hi"}]):
            tokens.append(event.content)

    async with recorder.client() as client:
        with pytest.raises(ApiError, match=r"Ollama went away \(LLM_GENERATION_FAILED\)"):
            await chat(client)
    assert tokens == ["hal"]


async def test_a_chat_stream_without_done_is_an_error() -> None:
    async with streaming(("token", {"content": "hal"})).client() as client:
        with pytest.raises(ClientError, match="before the answer was done"):
            [e async for e in client.chat("m", [{"role": "user", "content": "hi"}])]


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, "MODEL_NOT_FOUND"), (404, "SESSION_NOT_FOUND"), (503, "LLM_BACKEND_UNAVAILABLE")],
)
async def test_chat_refusals_before_the_stream(status: int, code: str) -> None:
    async with answering(error(code), status).client() as client:
        with pytest.raises(ApiError) as caught:
            [e async for e in client.chat("m", [{"role": "user", "content": "hi"}])]
    assert (caught.value.status, caught.value.code) == (status, code)


async def test_a_chat_answered_without_an_event_stream_is_invalid() -> None:
    async with answering({"message": "not a stream"}).client() as client:
        with pytest.raises(ApiError) as caught:
            [e async for e in client.chat("m", [{"role": "user", "content": "hi"}])]
    assert caught.value.code == "INVALID_RESPONSE"


async def test_chat_once_asks_for_one_answer() -> None:
    stats = {k: v for k, v in DONE.items() if k != "content"}
    answer = {
        **stats,
        "message": {"role": "assistant", "content": "hello"},
        "sources": [],
        "facts": [],
        "tools": [],
    }
    recorder = answering(answer)
    async with recorder.client() as client:
        got = await client.chat_once("m", session_id="s1", message="hi")
    assert isinstance(got, ChatAnswer)
    assert got.model_dump(mode="json") == answer
    assert (got.message.content, got.completion_tokens) == ("hello", 2)
    assert recorder.body == {
        "model": "m",
        "options": {},
        "stream": False,
        "session_id": "s1",
        "message": "hi",
    }


CALL = {
    "id": "call_1_1",
    "round": 1,
    "server": "calc",
    "tool": "add",
    "arguments": {"a": 2, "b": 3},
    "node_id": NODE,
}
RESULT = {k: CALL[k] for k in ("id", "round", "server", "tool")} | {
    "is_error": False,
    "text": "5",
    "duration_ms": 1.5,
}
USED = {"server": "calc", "tool": "add", "is_error": False, "duration_ms": 1.5}


async def test_chat_with_tools_yields_the_calls_and_their_results() -> None:
    done = {**DONE, "tools": [USED]}
    recorder = streaming(
        ("start", {"session_id": None, "node_id": NODE, "inference_id": "i1", "model": "m"}),
        ("tool_call", CALL),
        ("tool_result", RESULT),
        ("token", {"content": "5"}),
        ("done", done),
    )
    async with recorder.client() as client:
        events = [e async for e in client.chat("m", [{"role": "user", "content": "2+3?"}],
                                               mcp_servers=("calc", "time"))]  # fmt: skip
    assert recorder.body["mcp_servers"] == ["calc", "time"]
    assert [e.kind for e in events] == ["start", "tool_call", "tool_result", "token", "done"]
    assert (events[1].data, events[2].data) == (CALL, RESULT)
    assert events[-1].data["tools"] == [USED]


async def test_chat_once_with_all_servers() -> None:
    stats = {k: v for k, v in DONE.items() if k != "content"}
    answer = {**stats, "message": {"role": "assistant", "content": "5"}, "tools": [USED]}
    recorder = answering(answer)
    async with recorder.client() as client:
        got = await client.chat_once("m", [{"role": "user", "content": "2+3?"}], mcp_servers="all")
    assert recorder.body["mcp_servers"] == "all"
    assert [(t.server, t.tool, t.is_error) for t in got.tools] == [("calc", "add", False)]


async def test_no_tools_asked_sends_no_mcp_servers() -> None:
    recorder = streaming(("done", DONE))
    async with recorder.client() as client:
        [e async for e in client.chat("m", [{"role": "user", "content": "hi"}])]
    assert "mcp_servers" not in recorder.body


async def test_no_agent_is_agent_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with Recorder(refuse).client() as client:
        with pytest.raises(AgentUnavailable):
            [e async for e in client.chat("m", [{"role": "user", "content": "hi"}])]
        with pytest.raises(AgentUnavailable):
            await client.llm_status()


# --- sessions ------------------------------------------------------------------------------


async def test_session_calls() -> None:
    message = {
        "seq": 1,
        "role": "assistant",
        "content": "foxes are quick",
        "created_at": 1700000100.0,
        "stats": {**{k: v for k, v in DONE.items() if k not in ("content", "session_id")},
                  "partial": False, "sources": [], "facts": [], "tools": []},
    }  # fmt: skip
    detail = {**SESSION, "messages": [message]}
    listed = {"sessions": [SESSION], "count": 1}
    deleted = {"session_id": "a/b", "deleted": True}
    recorder = by_path(
        {
            "POST /api/llm/sessions": SESSION,
            "GET /api/llm/sessions": listed,
            "GET /api/llm/sessions/a/b": detail,
            "PUT /api/llm/sessions/a/b/title": SESSION,
            "DELETE /api/llm/sessions/a/b": deleted,
        }
    )
    async with recorder.client() as client:
        created = await client.create_session()
        await client.create_session(title="about foxes", model="m")
        sessions = await client.sessions()
        session = await client.session("a/b")
        renamed = await client.rename_session("a/b", "new title")
        gone = await client.delete_session("a/b")
    assert isinstance(created, ChatSession)
    assert created.model_dump() == SESSION
    assert isinstance(sessions, SessionList)
    assert sessions.model_dump() == listed
    assert isinstance(session, ChatSessionDetail)
    assert session.model_dump(mode="json") == detail
    assert session.messages[0].stats is not None
    assert session.messages[0].stats.partial is False
    assert renamed.title == "about foxes"
    assert isinstance(gone, SessionDeleted)
    assert gone.model_dump() == deleted
    bare, full, listing, one, rename, delete = recorder.requests
    assert (bare.method, bare.url.path, json.loads(bare.content)) == (
        "POST",
        "/api/llm/sessions",
        {},
    )
    assert json.loads(full.content) == {"title": "about foxes", "model": "m"}
    assert (listing.method, listing.url.path) == ("GET", "/api/llm/sessions")
    assert (one.method, one.url.raw_path) == ("GET", b"/api/llm/sessions/a%2Fb")
    assert (rename.method, rename.url.raw_path) == ("PUT", b"/api/llm/sessions/a%2Fb/title")
    assert json.loads(rename.content) == {"title": "new title"}
    assert (delete.method, delete.url.raw_path) == ("DELETE", b"/api/llm/sessions/a%2Fb")


async def test_an_answer_of_another_shape_is_invalid_response() -> None:
    """An answer the models refuse is the agent's fault, said as an `ApiError`."""
    async with answering({"up": "maybe"}).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.llm_status()
    assert caught.value.code == "INVALID_RESPONSE"
    assert "LlmStatus" in caught.value.message


async def test_unknown_fields_from_a_newer_agent_are_ignored() -> None:
    async with answering({**SESSION, "pinned": True}).client() as client:
        session = await client.create_session()
    assert session.model_dump() == SESSION
