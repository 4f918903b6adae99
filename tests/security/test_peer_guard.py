"""Finding 3 in process: the peer server's connection guard frees every slot an attacker
holds, on its own deadline, whatever the attacker does with its end of the connection."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from agent.core.metrics import Metrics
from agent.peer.guard import GuardLimits
from agent.peer.identity import load_or_create_identity
from agent.peer.listener import create_peer_app
from agent.peer.serving import PeerServer, peer_config
from agent.peer.signing import NonceCache
from agent.server import bind
from tests.harness import async_wait_until

TIMEOUT = 0.5


@dataclass
class Served:
    server: PeerServer
    port: int

    @property
    def open(self) -> int:
        assert self.server.guard is not None
        return self.server.guard.open


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    identity = load_or_create_identity(tmp_path / "server")

    async def big(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            # Streamed, so the response cannot complete (and keep-alive end it) unread.
            for _ in range(4096):
                yield b"x" * 65536

        return StreamingResponse(chunks())

    app = create_peer_app(
        [Route("/join/big", big)],
        key_of=lambda node: None,
        nonces=NonceCache(identity.node_id),
        metrics=Metrics(),
    )
    sock = bind("127.0.0.1", 0)
    config = peer_config(
        app, str(identity.tls_cert_path), str(identity.tls_key_path), log_config=None
    )
    limits = GuardLimits(8, 8, TIMEOUT, write_stall_timeout=TIMEOUT)
    server = PeerServer(config, limits)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await async_wait_until(lambda: server.started or task.done(), 10, "the peer server")
    yield Served(server, sock.getsockname()[1])
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_an_idle_tls_connection_frees_its_slot(served: Served) -> None:
    # The client keeps its end open and never answers the server's close_notify.
    _, writer = await asyncio.open_connection("127.0.0.1", served.port, ssl=client_context())
    assert served.open == 1
    await async_wait_until(lambda: served.open == 0, TIMEOUT * 8, "the idle slot to be freed")
    writer.transport.abort()


async def test_a_reader_that_stops_reading_is_dropped(served: Served) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", served.port, ssl=client_context(), limit=1024
    )
    writer.write(b"GET /join/big HTTP/1.1\r\nhost: x\r\n\r\n")
    # Never read: the reader's buffer fills, then the kernel's, then the server's.
    await async_wait_until(lambda: served.open == 0, 20, "the stalled reader to be dropped")
    writer.transport.abort()
    del reader


async def test_shutdown_drops_connections_still_in_their_handshake(served: Served) -> None:
    raw = socket.create_connection(("127.0.0.1", served.port))
    await async_wait_until(lambda: served.open == 1, 5, "the connection to be admitted")
    served.server.should_exit = True
    await async_wait_until(lambda: served.open == 0, 5, "the handshake to be dropped")
    raw.close()
