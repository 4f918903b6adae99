"""The SDK's LLM pool calls without an agent (httpx MockTransport): status, models, delete and
pull, with the pull event stream and its errors."""

from __future__ import annotations

import json

import pytest

from agent.client import (
    AgentClient,
    ApiError,
    ClientError,
    LlmStatus,
    ModelCatalog,
    ModelDeleted,
    PullEvent,
)
from tests.client.llm_answers import (
    CATALOG,
    NODE,
    STATUS,
    answering,
    by_path,
    error,
    streaming,
)


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
