"""The one request and streaming path every SDK call takes: how each failure is mapped, and
that a stream's connection is always released (httpx MockTransport, and a raw socket server
for a request that breaks its own framing)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from agent.client import AgentClient, AgentUnavailable, ApiError, ClientError, StreamEndedEarly
from tests.client.conftest import BreakingStream

Handler = Callable[[httpx.Request], httpx.Response]
SSE = {"content-type": "text/event-stream; charset=utf-8"}


def client_with(handler: Handler) -> AgentClient:
    return AgentClient("http://agent.test", "secret", transport=httpx.MockTransport(handler))


class Recording(httpx.AsyncByteStream):
    """A stream body that says whether the client closed it."""

    def __init__(self, *parts: bytes) -> None:
        self.parts, self.closed = parts, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part

    async def aclose(self) -> None:
        self.closed = True


def event(topic: str, data: Any, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {topic}\ndata: {json.dumps(data)}\n\n".encode()


async def test_an_error_event_in_any_stream_raises_its_code() -> None:
    error = {"error": "disk gone", "error_code": "TASK_LOG_LOST", "details": {"task": "t1"}}
    body = event("stdout", {"text": "a"}, 1) + event("error", error)
    seen: list[str] = []

    async def follow(client: AgentClient) -> None:
        async for log in client.task_logs("t1"):
            seen.append(log.text)

    async with client_with(lambda _: httpx.Response(200, headers=SSE, content=body)) as c:
        with pytest.raises(ApiError) as caught:
            await follow(c)
    assert seen == ["a"]
    assert (caught.value.status, caught.value.code) == (200, "TASK_LOG_LOST")
    assert caught.value.details == {"task": "t1"}


async def test_an_error_event_without_a_code_is_a_stream_error() -> None:
    body = event("error", "it broke")
    async with client_with(lambda _: httpx.Response(200, headers=SSE, content=body)) as c:
        with pytest.raises(ApiError) as caught:
            [e async for e in c.events()]
    assert (caught.value.code, caught.value.message) == ("STREAM_ERROR", "it broke")


async def test_a_stream_that_ends_before_its_last_event() -> None:
    body = event("start", {"model": "m"})
    async with client_with(lambda _: httpx.Response(200, headers=SSE, content=body)) as c:
        with pytest.raises(StreamEndedEarly, match="ended the chat with m before the answer"):
            [e async for e in c.chat("m", [{"role": "user", "content": "hi"}])]
        with pytest.raises(StreamEndedEarly, match="ended the pull of m before it was done"):
            [e async for e in c.llm_pull("m")]


@pytest.mark.parametrize("open_stream", ["events", "logs", "chat"])
async def test_a_success_that_is_no_event_stream_is_invalid(open_stream: str) -> None:
    async with client_with(lambda _: httpx.Response(200, json={"not": "a stream"})) as c:
        streams = {
            "events": lambda: c.events(),
            "logs": lambda: c.task_logs("t1"),
            "chat": lambda: c.chat("m", [{"role": "user", "content": "hi"}]),
        }
        with pytest.raises(ApiError) as caught:
            [e async for e in streams[open_stream]()]
    assert caught.value.code == "INVALID_RESPONSE"
    assert "without an event stream" in caught.value.message


async def test_a_refused_stream_with_a_body_that_is_not_json() -> None:
    answer = httpx.Response(502, content=b"<html>Bad Gateway</html>")
    async with client_with(lambda _: answer) as c:
        with pytest.raises(ApiError) as caught:
            [e async for e in c.events()]
    assert caught.value.code == "HTTP_502"
    assert caught.value.message.startswith("the agent answered HTTP 502 Bad Gateway: <html>")


async def test_a_refusal_whose_body_breaks_off_is_agent_unavailable() -> None:
    broken = BreakingStream(b'{"success": fa', httpx.ReadError("reset"))
    async with client_with(lambda _: httpx.Response(500, stream=broken)) as c:
        with pytest.raises(AgentUnavailable, match="cannot be reached: reset"):
            [e async for e in c.events()]
        with pytest.raises(AgentUnavailable, match="cannot be reached: reset"):
            async with c.storage_download("f"):
                pytest.fail("opened")


async def test_a_stream_lost_midway_is_agent_unavailable() -> None:
    broken = BreakingStream(event("a", 1, 1), httpx.RemoteProtocolError("peer closed"))
    seen: list[Any] = []

    async def follow(client: AgentClient) -> None:
        async for item in client.events():
            seen.append(item.data)

    async with client_with(lambda _: httpx.Response(200, headers=SSE, stream=broken)) as c:
        with pytest.raises(AgentUnavailable) as caught:
            await follow(c)
    assert seen == [1]
    assert str(caught.value) == "lost the event stream from http://agent.test: peer closed"


async def test_a_caller_that_stops_early_releases_the_connection() -> None:
    body = Recording(event("token", {"content": "a"}), event("token", {"content": "b"}))
    async with client_with(lambda _: httpx.Response(200, headers=SSE, stream=body)) as c:
        stream = c.chat("m", [{"role": "user", "content": "hi"}])
        async with aclosing(stream):
            first = await anext(stream)
        assert first.content == "a"
        assert body.closed


async def test_a_stream_stops_reading_after_its_last_event() -> None:
    done = {"content": "hi", "node_id": "n1"}
    body = Recording(event("done", done), event("token", {"content": "never read"}))
    async with client_with(lambda _: httpx.Response(200, headers=SSE, stream=body)) as c:
        events = [e async for e in c.chat("m", [{"role": "user", "content": "hi"}])]
    assert [(e.kind, e.content) for e in events] == [("done", "hi")]
    assert body.closed


@pytest.mark.parametrize(
    ("blocks", "reason"),
    [([b"abc"], "ended at 3 of 6 bytes"), ([b"abcd", b"efg"], "grew past 6 bytes")],
)
async def test_an_upload_of_another_length_than_announced(blocks: list[bytes], reason: str) -> None:
    """Against a real socket: over a real HTTP/1.1 connection a body of the wrong length
    cannot be sent at all, so the upload must fail with a clear error and send no more."""
    heads: list[bytes] = []
    bodies: list[bytes] = []
    closed = asyncio.Event()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        bodies.append(await reader.read())  # until the client gives up and closes
        writer.close()
        closed.set()

    async def source() -> AsyncIterator[bytes]:
        for block in blocks:
            yield block

    async with await asyncio.start_server(accept, "127.0.0.1", 0) as server:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with AgentClient(url, "t", timeout=5) as client:
            with pytest.raises(ClientError, match=f"the upload of f failed: its source {reason}"):
                await client.storage_upload("f", source(), size=6)
        await asyncio.wait_for(closed.wait(), timeout=10)
    assert b"content-length: 6" in heads[0].lower()
    assert len(bodies[0]) <= 6
