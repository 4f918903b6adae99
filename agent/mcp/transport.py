"""The SDK's transports (stdio or streamable HTTP) for one server start, watched: the
session's read stream is wrapped so the supervisor learns when the server went away (stdout
closed, stream ended), which the SDK's session does not report on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, TextIO

import anyio
import httpx2
from mcp.client._transport import TransportStreams
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from agent.mcp.models import HttpTransport, StdioTransport, Transport

HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


class WatchedReadStream:
    def __init__(self, inner: Any, ended: anyio.Event) -> None:
        self._inner = inner
        self._ended = ended

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            item: SessionMessage | Exception = await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._ended.set()
            raise
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> WatchedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def __aenter__(self) -> WatchedReadStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None


class Connection:
    """One start's transport; `process` is the stdio server's process once spawned."""

    def __init__(self, transport: Transport, credentials: dict[str, str], errlog: TextIO) -> None:
        self.transport = transport
        self.credentials = credentials
        self.errlog = errlog
        self.ended = anyio.Event()
        self.process: Any = None

    @asynccontextmanager
    async def open(self) -> AsyncIterator[TransportStreams]:
        inner = self._transport()
        async with inner as (read, write):
            self.process = _spawned(inner)
            yield WatchedReadStream(read, self.ended), write

    def _transport(self) -> AbstractAsyncContextManager[TransportStreams]:
        if isinstance(self.transport, StdioTransport):
            return stdio_client(stdio_parameters(self.transport, self.credentials), self.errlog)
        return _http(self.transport, self.credentials)


def _spawned(inner: object) -> Any:
    # The SDK keeps the spawned process in its generator's frame and exposes it nowhere
    # else; its pid is what lets the supervisor make sure no process of the group survives,
    # and its exit status is what a user needs to hear.
    frame = getattr(getattr(inner, "gen", None), "ag_frame", None)
    return None if frame is None else frame.f_locals.get("process")


def stdio_parameters(
    transport: StdioTransport, credentials: dict[str, str]
) -> StdioServerParameters:
    return StdioServerParameters(
        command=transport.command,
        args=list(transport.args),
        env={**transport.env, **credentials},
        cwd=transport.cwd,
    )


@asynccontextmanager
async def _http(
    transport: HttpTransport, credentials: dict[str, str]
) -> AsyncIterator[TransportStreams]:
    headers = {**transport.headers, **credentials}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT) as client,
        streamable_http_client(
            transport.url, http_client=client, terminate_on_close=True
        ) as streams,
    ):
        yield streams
