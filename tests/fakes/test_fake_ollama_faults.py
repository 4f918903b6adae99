"""Scripted failures of the fake Ollama: errors, held and dropped streams, downtime, restarts,
and the subprocess mode used for multi-node tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import ollama
import pytest

from tests.fakes.ollama import (
    FakeOllama,
    FakeOllamaServer,
    fake_ollama_process,
    serve_fake_ollama,
)
from tests.fakes.ollama_proto import FOREVER_S, parse_keep_alive

LLAMA = "llama3.1:8b"
USER = [{"role": "user", "content": "one two three four"}]


@pytest.fixture
async def server() -> AsyncIterator[FakeOllamaServer]:
    async with serve_fake_ollama(models=[LLAMA]) as server:
        yield server


@pytest.fixture
async def client(server: FakeOllamaServer) -> AsyncIterator[ollama.AsyncClient]:
    client = ollama.AsyncClient(host=server.url)
    yield client
    await client.close()


async def test_fail_next_fails_only_the_next_matching_call(
    server: FakeOllamaServer, client: ollama.AsyncClient
) -> None:
    server.fake.fail_next(503, "server busy, please try again.  maximum pending requests exceeded")
    with pytest.raises(ollama.ResponseError) as busy:
        await client.list()
    assert busy.value.status_code == 503
    assert busy.value.error.startswith("server busy")
    assert len((await client.list()).models) == 1

    server.fake.fail_next(500, "llama runner process has terminated", endpoint="/api/chat")
    await client.show(LLAMA)  # another endpoint: unaffected
    with pytest.raises(ollama.ResponseError) as crashed:
        async for _ in await client.chat(LLAMA, messages=USER, stream=True):
            pass
    assert (crashed.value.status_code, crashed.value.error) == (
        500, "llama runner process has terminated"
    )  # fmt: skip


async def test_fail_mid_stream_sends_an_error_line(
    server: FakeOllamaServer, client: ollama.AsyncClient
) -> None:
    server.fake.fail_next(500, "runner crashed", endpoint="/api/chat", mid_stream_after=2)
    received: list[str] = []

    async def consume() -> None:
        async for part in await client.chat(LLAMA, messages=USER, stream=True):
            received.append(part.message.content or "")

    with pytest.raises(ollama.ResponseError) as failed:
        await consume()
    assert received == ["one", " two"]
    assert failed.value.error == "runner crashed"
    assert server.fake.completed == 1
    assert server.fake.aborted == 0


async def test_gate_holds_a_stream_until_released(
    server: FakeOllamaServer, client: ollama.AsyncClient
) -> None:
    fake = server.fake
    fake.hold()
    stream = await client.chat(LLAMA, messages=USER, stream=True)
    assert (await anext(stream)).message.content == "one"
    await asyncio.wait_for(fake.holding.wait(), 5)
    assert fake.waiting_at_gate == 1
    assert fake.completed == 0
    fake.release()
    rest = [part.message.content async for part in stream]
    assert rest == [" two", " three", " four", ""]
    assert fake.completed == 1
    assert not fake.holding.is_set()


async def test_pull_gate_holds_a_download(
    server: FakeOllamaServer, client: ollama.AsyncClient
) -> None:
    fake = server.fake
    fake.hold_pulls()
    progress = await client.pull("qwen2.5:0.5b", stream=True)
    assert (await anext(progress)).status == "pulling manifest"
    assert (await anext(progress)).completed is None  # the first layer starts...
    await asyncio.wait_for(fake.holding.wait(), 5)  # ...and stalls
    assert fake.model("qwen2.5:0.5b") is None
    fake.release()
    assert [p.status async for p in progress][-1] == "success"
    assert fake.model("qwen2.5:0.5b") is not None


async def test_client_disconnect_mid_stream_is_seen(
    server: FakeOllamaServer, client: ollama.AsyncClient
) -> None:
    fake = server.fake
    fake.hold()
    stream = await client.chat(LLAMA, messages=USER, stream=True)
    await anext(stream)
    await asyncio.wait_for(fake.holding.wait(), 5)
    await stream.aclose()  # the client walks away
    await asyncio.wait_for(fake.aborted_event.wait(), 5)
    assert (fake.aborted, fake.completed, fake.waiting_at_gate) == (1, 0, 0)


async def test_token_delay_paces_the_stream(
    client: ollama.AsyncClient, server: FakeOllamaServer
) -> None:
    server.fake.token_delay_s = 0.05
    started = time.monotonic()
    final = await client.chat(LLAMA, messages=USER)
    assert time.monotonic() - started >= 0.2  # 4 gaps between 5 lines
    assert final.eval_duration == 4 * 50_000_000


async def test_down_refuses_connections_and_restart_keeps_the_port(
    server: FakeOllamaServer, client: ollama.AsyncClient
) -> None:
    url = server.url
    await client.pull("qwen2.5:0.5b")
    await server.stop()
    assert not server.up
    with pytest.raises(ConnectionError):  # the client wraps httpx.ConnectError...
        await client.list()
    with pytest.raises(httpx.ConnectError):  # ...except when streaming
        async for _ in await client.chat(LLAMA, messages=USER, stream=True):
            pass
    await server.start()
    assert server.url == url
    assert server.up
    assert {m.model for m in (await client.list()).models} == {LLAMA, "qwen2.5:0.5b"}


async def test_stop_drops_a_stream_in_flight(
    server: FakeOllamaServer, client: ollama.AsyncClient
) -> None:
    server.fake.hold()
    stream = await client.chat(LLAMA, messages=USER, stream=True)
    await anext(stream)
    await asyncio.wait_for(server.fake.holding.wait(), 5)
    await server.stop()  # Ollama dies mid-answer
    with pytest.raises(httpx.TransportError):
        async for _ in stream:
            pass
    assert server.fake.aborted == 1


async def test_server_can_start_down() -> None:
    async with serve_fake_ollama(up=False, models=[LLAMA]) as server:
        client = ollama.AsyncClient(host=server.url)
        with pytest.raises(ConnectionError):
            await client.list()
        await server.set_up(True)
        assert len((await client.list()).models) == 1
        await client.close()


def test_state_round_trips_through_json() -> None:
    fake = FakeOllama(models=[LLAMA], registry=["qwen2.5:0.5b"], reply_prefix="a: ")
    copy = FakeOllama.from_state(json.loads(json.dumps(fake.to_state())))
    assert copy.to_state() == fake.to_state()
    assert list(copy.registry) == ["qwen2.5:0.5b"]
    assert copy.reply_for("hi") == "a: hi"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 300.0), (0, 0.0), ("0", 0.0), (60, 60.0), ("5m", 300.0), ("1h30m", 5400.0),
     ("1.5s", 1.5), ("-1", FOREVER_S), (-1, FOREVER_S)],
)  # fmt: skip
def test_keep_alive_takes_seconds_or_go_durations(value: object, seconds: float) -> None:
    assert parse_keep_alive(value, 300.0) == seconds


def test_subprocess_fake_persists_state_across_restarts(tmp_path: Path) -> None:
    state_file = tmp_path / "ollama.json"
    with fake_ollama_process(state_file, models=[LLAMA], reply_prefix="node-a: ") as proc:
        client = ollama.Client(host=proc.url)
        reply = client.chat(LLAMA, messages=USER)
        assert reply.message.content == "node-a: one two three four"
        assert client.pull("qwen2.5:0.5b").status == "success"
        assert "qwen2.5:0.5b" in {m["name"] for m in proc.state()["models"]}

        url = proc.url
        proc.stop(crash=True)
        with pytest.raises(ConnectionError):
            client.list()
        proc.start()
        assert proc.url == url
        assert {m.model for m in client.list().models} == {LLAMA, "qwen2.5:0.5b"}

        proc.fail_next(503, "busy", endpoint="/api/chat")
        with pytest.raises(ollama.ResponseError) as busy:
            client.chat(LLAMA, messages=USER)
        assert busy.value.status_code == 503
        proc.configure(reply_text="fixed")
        assert client.chat(LLAMA, messages=USER).message.content == "node-a: fixed"
        stats = proc.stats()
        assert stats["calls"]["/api/chat"] == 2
        assert stats["last_chat"]["messages"] == USER
