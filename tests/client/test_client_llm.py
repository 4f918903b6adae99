"""The SDK's LLM calls without an agent (httpx MockTransport): requests, the chat and pull
event streams, and their errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

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
    LlmStatus,
    ModelCatalog,
    ModelDeleted,
    PullEvent,
    SessionDeleted,
    SessionList,
)

NODE = "n1" * 12
GIB = 2**30
SESSION = {
    "session_id": "s0123456789abcdef",
    "title": "about foxes",
    "model": "qwen2.5:0.5b",
    "created_at": 1700000000.0,
    "updated_at": 1700000100.0,
    "message_count": 2,
}
STATUS = {
    "node_id": NODE,
    "ollama_url": "http://127.0.0.1:11434",
    "up": True,
    "reason": None,
    "version": "0.6.5",
    "models": [
        {
            "name": "qwen2.5:0.5b",
            "size": 397_821_319,
            "family": "qwen2",
            "parameter_size": "494.03M",
            "quantization": "Q4_K_M",
            "context_length": 32768,
            "details": {"family": "qwen2", "parameter_size": "494.03M"},
            "model_info": {"general.architecture": "qwen2", "qwen2.block_count": 24},
        }
    ],
    "loaded": [],
    "checked_at": 1700000000.0,
}
ESTIMATES = {
    "weights_bytes": 397_821_319,
    "weights_source": "disk",
    "bits_per_weight": 4.85,
    "embedding_bytes": 1,
    "per_layer_bytes": 2,
    "kv_cache_bytes": 3,
    "kv_per_layer_bytes": 4,
    "context_length": 8192,
    "layers": 24,
    "overhead_bytes": 5,
    "total_bytes": 6,
    "assumptions": ["weights = size on disk"],
    "warnings": [],
}
CATALOG = {
    "models": [
        {
            "name": "qwen2.5:0.5b",
            "size": 397_821_319,
            "family": "qwen2",
            "parameter_size": "494.03M",
            "quantization": "Q4_K_M",
            "context_length": 32768,
            "details": {"family": "qwen2"},
            "nodes": [{"node_id": NODE, "name": "laptop", "state": "online"}],
            "plan": {
                "verdict": "single_node",
                "estimates": ESTIMATES,
                "fits_on": [
                    {
                        "node_id": NODE,
                        "name": "laptop",
                        "usable_bytes": 10 * GIB,
                        "headroom_bytes": 9 * GIB,
                        "vram_only": False,
                    }
                ],
                "shards": [],
                "shortfall_bytes": 0,
            },
        },
        {
            "name": "odd:1b",
            "size": 0,
            "family": None,
            "parameter_size": None,
            "quantization": None,
            "context_length": None,
            "details": {},
            "nodes": [{"node_id": NODE, "name": "laptop", "state": "online"}],
            "plan": {"verdict": "unknown", "reason": "cannot estimate weights"},
        },
    ],
    "count": 2,
}
DONE = {
    "node_id": NODE,
    "model": "qwen2.5:0.5b",
    "prompt_tokens": 11,
    "completion_tokens": 2,
    "time_to_first_token_ms": 12.5,
    "tokens_per_s": 40.0,
    "done_reason": "stop",
    "session_id": None,
    "content": "hello there",
}


def sse(*events: tuple[str, Any]) -> bytes:
    text = ": keep-alive\n\n"
    for topic, data in events:
        text += f"event: {topic}\ndata: {json.dumps(data)}\n\n"
    return text.encode()


class Recorder:
    """A MockTransport handler answering each request with `answer(request)`."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> AgentClient:
        return AgentClient("http://agent.test", "secret", transport=httpx.MockTransport(self))

    @property
    def only(self) -> httpx.Request:
        (request,) = self.requests
        return request

    @property
    def body(self) -> Any:
        return json.loads(self.only.content)


def answering(body: Any, status: int = 200) -> Recorder:
    return Recorder(lambda request: httpx.Response(status, json=body))


def streaming(*events: tuple[str, Any]) -> Recorder:
    headers = {"content-type": "text/event-stream"}
    return Recorder(lambda request: httpx.Response(200, content=sse(*events), headers=headers))


def error(code: str, message: str = "refused") -> dict[str, Any]:
    return {"success": False, "error": message, "error_code": code, "details": {"x": 1}}


# --- the pool ------------------------------------------------------------------------------


def by_path(answers: dict[str, Any]) -> Recorder:
    """Answers each request with the body for its method and path (`"GET /api/..."`)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[f"{request.method} {request.url.path}"])

    return Recorder(answer)


async def test_status_models_and_delete_requests() -> None:
    deleted = {"model": "hf.co/org/model:Q4_K_M", "deleted": True}
    recorder = by_path(
        {
            "GET /api/llm/status": STATUS,
            "GET /api/llm/models": CATALOG,
            "DELETE /api/llm/models/hf.co/org/model:Q4_K_M": deleted,
        }
    )
    async with recorder.client() as client:
        status = await client.llm_status()
        catalog = await client.llm_models()
        gone = await client.llm_delete("hf.co/org/model:Q4_K_M")
    # The agent's own models, which dump back to exactly what it sent.
    assert isinstance(status, LlmStatus)
    assert status.model_dump(mode="json") == STATUS
    assert status.models[0].quantization == "Q4_K_M"
    assert isinstance(catalog, ModelCatalog)
    assert catalog.model_dump(mode="json") == CATALOG
    assert catalog.models[0].plan.verdict == "single_node"
    assert catalog.models[1].plan.verdict == "unknown"
    assert isinstance(gone, ModelDeleted)
    assert gone.model_dump() == deleted
    status, catalog, delete = recorder.requests
    assert (status.method, status.url.path) == ("GET", "/api/llm/status")
    assert (catalog.method, catalog.url.path) == ("GET", "/api/llm/models")
    assert delete.method == "DELETE"
    assert delete.url.raw_path == b"/api/llm/models/hf.co%2Forg%2Fmodel%3AQ4_K_M"
    assert status.headers["authorization"] == "Bearer secret"


@pytest.mark.parametrize(
    ("status", "code"), [(404, "MODEL_NOT_FOUND"), (503, "LLM_BACKEND_UNAVAILABLE")]
)
async def test_delete_refusals_are_api_errors(status: int, code: str) -> None:
    async with answering(error(code, "no"), status).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.llm_delete("llama3.1:8b")
    assert (caught.value.status, caught.value.code, caught.value.details) == (
        status,
        code,
        {"x": 1},
    )


async def test_pull_yields_progress_then_done() -> None:
    digest = "sha256:" + "ab" * 32
    recorder = streaming(
        ("progress", {"status": "pulling manifest"}),
        ("progress", {"status": "pulling abab", "digest": digest, "total": 100, "percent": 0}),
        ("progress", {"status": "pulling abab", "digest": digest, "completed": 100, "total": 100}),
        ("done", {"model": "llama3.2:3b", "node_id": NODE}),
        ("progress", {"status": "never read"}),
    )
    async with recorder.client() as client:
        events = [e async for e in client.llm_pull("llama3.2:3b", node=NODE)]
    request = recorder.only
    assert (request.method, request.url.path) == ("POST", "/api/llm/pull")
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.content) == {"model": "llama3.2:3b", "node": NODE}
    assert events[0] == PullEvent(
        "progress", "pulling manifest", data={"status": "pulling manifest"}
    )
    assert (events[1].digest, events[1].completed, events[1].total, events[1].percent) == (
        digest,
        None,
        100,
        0.0,
    )
    assert (events[2].completed, events[2].total) == (100, 100)
    assert events[-1].kind == "done"
    assert events[-1].data == {"model": "llama3.2:3b", "node_id": NODE}
    assert len(events) == 4


async def test_pull_without_node_sends_only_the_model() -> None:
    recorder = streaming(("done", {"model": "m", "node_id": NODE}))
    async with recorder.client() as client:
        assert [e.kind async for e in client.llm_pull("m")] == ["done"]
    assert recorder.body == {"model": "m"}


async def test_a_pull_error_event_raises_its_code() -> None:
    recorder = streaming(
        ("progress", {"status": "pulling manifest"}),
        (
            "error",
            {"error": "pull model manifest: file does not exist", "error_code": "PULL_FAILED"},
        ),
    )
    seen: list[PullEvent] = []

    async def pull(client: AgentClient) -> None:
        async for event in client.llm_pull("nope:1b"):
            seen.append(event)

    async with recorder.client() as client:
        with pytest.raises(ApiError) as caught:
            await pull(client)
    assert [e.status for e in seen] == ["pulling manifest"]
    assert caught.value.code == "PULL_FAILED"
    assert str(caught.value) == "pull model manifest: file does not exist (PULL_FAILED)"


async def test_a_pull_stream_without_done_is_an_error() -> None:
    async with streaming(("progress", {"status": "pulling manifest"})).client() as client:
        with pytest.raises(ClientError, match="before it was done"):
            [e async for e in client.llm_pull("m")]


@pytest.mark.parametrize(
    ("status", "code"), [(422, "UNKNOWN_NODE"), (503, "LLM_BACKEND_UNAVAILABLE")]
)
async def test_pull_refusals_before_the_stream(status: int, code: str) -> None:
    async with answering(error(code), status).client() as client:
        with pytest.raises(ApiError) as caught:
            [e async for e in client.llm_pull("m", node="n9")]
    assert (caught.value.status, caught.value.code) == (status, code)


# --- chat ----------------------------------------------------------------------------------


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
    answer = {**stats, "message": {"role": "assistant", "content": "hello"}}
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
                  "partial": False},
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
