"""The fake Ollama speaks the real protocol: driven here by the official `ollama` client."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import ollama
import pytest

from tests.fakes.ollama import FakeOllama, FakeOllamaServer, catalog_model, serve_fake_ollama

LLAMA = "llama3.1:8b"
USER = [{"role": "user", "content": "why is the sky blue?"}]
FINAL_KEYS = {
    "model", "created_at", "message", "done", "done_reason", "total_duration", "load_duration",
    "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration",
}  # fmt: skip


@pytest.fixture
async def server() -> AsyncIterator[FakeOllamaServer]:
    async with serve_fake_ollama(models=[LLAMA, "qwen2.5:0.5b", "nomic-embed-text"]) as server:
        yield server


@pytest.fixture
def fake(server: FakeOllamaServer) -> FakeOllama:
    return server.fake


@pytest.fixture
async def client(server: FakeOllamaServer) -> AsyncIterator[ollama.AsyncClient]:
    client = ollama.AsyncClient(host=server.url)
    yield client
    await client.close()


async def test_version_tags_and_show(server: FakeOllamaServer, client: ollama.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/")).text == "Ollama is running"
        assert (await http.get("/api/version")).json() == {"version": "0.6.5"}
        raw = (await http.get("/api/tags")).json()["models"]
    assert {m["name"] for m in raw} == {LLAMA, "qwen2.5:0.5b", "nomic-embed-text:latest"}
    listed = {m.model: m for m in (await client.list()).models}
    llama = listed[LLAMA]
    assert llama.size == 4_920_753_328
    assert llama.details is not None
    assert (llama.details.format, llama.details.family) == ("gguf", "llama")
    assert (llama.details.parameter_size, llama.details.quantization_level) == ("8.0B", "Q4_K_M")
    assert len(llama.digest or "") == 64

    shown = await client.show(LLAMA)
    info = shown.modelinfo or {}
    assert info["general.architecture"] == "llama"
    assert info["general.parameter_count"] == 8_030_261_248
    assert (info["llama.block_count"], info["llama.context_length"]) == (32, 131_072)
    assert (info["llama.embedding_length"], info["llama.attention.head_count_kv"]) == (4096, 8)
    assert "<|eot_id|>" in (shown.template or "")
    assert '"<|eot_id|>"' in (shown.parameters or "")
    assert shown.capabilities == ["completion", "tools"]
    assert shown.modified_at is not None
    qwen = (await client.show("qwen2.5:0.5b")).modelinfo or {}
    assert (qwen["general.architecture"], qwen["qwen2.context_length"]) == ("qwen2", 32_768)


async def test_unknown_models_are_404_with_ollamas_messages(client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as show:
        await client.show("nope:1b")
    assert (show.value.status_code, show.value.error) == (404, "model 'nope:1b' not found")
    with pytest.raises(ollama.ResponseError) as chat:
        await client.chat("nope:1b", messages=USER)
    assert chat.value.status_code == 404
    assert chat.value.error == 'model "nope:1b" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as streamed:
        async for _ in await client.chat("nope:1b", messages=USER, stream=True):
            pass
    assert streamed.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as delete:
        await client.delete("nope:1b")
    assert delete.value.status_code == 404


async def test_default_tag_is_latest(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError):
        await client.show("llama3.1")  # only llama3.1:8b is installed
    fake.add_model(catalog_model(LLAMA, name="llama3.1:latest"))
    assert (await client.show("llama3.1")).details is not None
    assert (await client.show("nomic-embed-text")).capabilities == ["embedding"]


async def test_chat_streams_word_by_word_then_final_stats(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    parts = [
        part
        async for part in await client.chat(
            LLAMA, messages=USER, stream=True, options={"temperature": 0}
        )
    ]
    *chunks, final = parts
    assert [c.message.content for c in chunks] == ["why", " is", " the", " sky", " blue?"]
    assert all(not c.done and c.message.role == "assistant" and c.model == LLAMA for c in chunks)
    assert final.done
    assert final.done_reason == "stop"
    assert final.message.content == ""
    assert final.eval_count == 5
    assert (final.prompt_eval_count or 0) > 0
    assert final.total_duration
    assert final.load_duration
    assert final.eval_duration
    assert final.prompt_eval_duration
    assert fake.calls["/api/chat"] == 1
    sent = fake.last_chat or {}
    assert (sent["model"], sent["messages"], sent["stream"]) == (LLAMA, USER, True)
    assert sent["options"] == {"temperature": 0}


async def test_chat_wire_format(server: FakeOllamaServer) -> None:
    body = {"model": LLAMA, "messages": USER}
    async with (
        httpx.AsyncClient(base_url=server.url) as http,
        http.stream("POST", "/api/chat", json=body) as response,
    ):
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [line async for line in response.aiter_lines()]
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert set(first) == {"model", "created_at", "message", "done"}
    assert first["message"] == {"role": "assistant", "content": "why"}
    assert set(last) == FINAL_KEYS
    assert last["done"] is True
    assert datetime.fromisoformat(last["created_at"]).tzinfo == UTC


async def test_chat_without_streaming_and_custom_replies(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    whole = await client.chat(LLAMA, messages=USER)
    assert whole.done
    assert whole.message.content == "why is the sky blue?"
    assert whole.eval_count == 5
    assert whole.done_reason == "stop"
    fake.reply = lambda text: f"You asked: {text.upper()}"
    reply = await client.chat(LLAMA, messages=[*USER, {"role": "assistant", "content": "x"}])
    assert reply.message.content == "You asked: WHY IS THE SKY BLUE?"
    limited = await client.chat(LLAMA, messages=USER, options={"num_predict": 2})
    assert (limited.message.content, limited.done_reason) == ("You asked:", "length")
    generated = await client.generate(LLAMA, prompt="hello world")
    assert (generated.response, generated.done, generated.context) == (
        "You asked: HELLO WORLD", True, list(range(1, 11))
    )  # fmt: skip
    pieces = [p.response async for p in await client.generate(LLAMA, prompt="a b", stream=True)]
    assert pieces == ["You", " asked:", " A", " B", ""]


async def test_ps_tracks_loaded_models(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    assert (await client.ps()).models == []
    loaded = await client.chat("qwen2.5:0.5b", messages=[])  # empty chat = load
    assert loaded.done_reason == "load"
    await client.chat(LLAMA, messages=USER, keep_alive="10m")
    running = {m.model: m for m in (await client.ps()).models}
    assert set(running) == {LLAMA, "qwen2.5:0.5b"}
    llama = running[LLAMA]
    assert llama.size == llama.size_vram == 4_920_753_328
    assert llama.context_length == 4096
    assert llama.expires_at is not None
    remaining = llama.expires_at.timestamp() - time.time()
    assert 590 < remaining <= 600
    unloaded = await client.chat(LLAMA, messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    fake.vram_bytes = 1_000_000_000  # a small GPU: the rest spills to system RAM
    await client.embed("nomic-embed-text", input="warm up")
    sizes = {m.model: (m.size, m.size_vram) for m in (await client.ps()).models}
    assert sizes["nomic-embed-text:latest"] == (274_302_450, 274_302_450)
    fake.load(LLAMA)
    assert fake.loaded["llama3.1:8b"].size_vram == 1_000_000_000


async def test_pull_streams_progress_and_installs(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    progress = [p async for p in await client.pull("llama3.2:3b", stream=True)]
    statuses = [p.status for p in progress]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    downloads = [p for p in progress if p.digest]
    weights = [p for p in downloads if p.digest == downloads[0].digest]
    assert weights[0].status == f"pulling {(weights[0].digest or '')[7:19]}"
    assert weights[0].completed is None
    assert weights[-1].completed == weights[-1].total
    assert [p.completed or 0 for p in weights] == sorted(p.completed or 0 for p in weights)
    assert sum({p.digest: p.total or 0 for p in downloads}.values()) == 2_019_393_189
    assert "llama3.2:3b" in {m.model for m in (await client.list()).models}
    assert (await client.pull("qwen2.5:0.5b")).status == "success"  # stream=False: one object

    with pytest.raises(ollama.ResponseError) as streamed:
        async for _ in await client.pull("no-such-model", stream=True):
            pass
    assert streamed.value.error == "pull model manifest: file does not exist"
    with pytest.raises(ollama.ResponseError) as single:
        await client.pull("no-such-model")
    assert single.value.status_code == 500
    assert fake.calls["/api/pull"] == 4


async def test_delete_and_embed(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    assert (await client.delete("qwen2.5:0.5b")).status == "success"
    assert fake.model("qwen2.5:0.5b") is None
    with pytest.raises(ollama.ResponseError) as gone:
        await client.delete("qwen2.5:0.5b")
    assert (gone.value.status_code, gone.value.error) == (404, "model 'qwen2.5:0.5b' not found")
    first = await client.embed("nomic-embed-text", input=["a", "b"])
    again = await client.embed("nomic-embed-text", input="a")
    assert len(first.embeddings) == 2
    assert len(first.embeddings[0]) == 768
    assert again.embeddings[0] == first.embeddings[0] != first.embeddings[1]
    assert abs(sum(v * v for v in first.embeddings[0]) - 1) < 1e-9
