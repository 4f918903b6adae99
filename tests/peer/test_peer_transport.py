"""PeerClient against a real TLS peer listener: pinning, signing, streaming both ways."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.core.metrics import Metrics
from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable
from agent.peer.identity import Identity, load_or_create_identity
from agent.peer.listener import body_limit, create_peer_app, peer_node
from agent.peer.signing import NonceCache
from agent.server import bind


@dataclass
class PeerServer:
    server_identity: Identity
    client_identity: Identity
    port: int
    step: asyncio.Event

    def target(self, cert_from: Identity | None = None) -> PeerTarget:
        cert = (cert_from or self.server_identity).tls_cert_path.read_text()
        return PeerTarget(self.server_identity.node_id, ("127.0.0.1",), self.port, cert)


@pytest.fixture
async def peer_server(tmp_path: Path) -> AsyncIterator[PeerServer]:
    server_identity = load_or_create_identity(tmp_path / "server")
    client_identity = load_or_create_identity(tmp_path / "client")
    step = asyncio.Event()

    async def whoami(request: Request) -> Response:
        return JSONResponse({"caller": peer_node(request), "body": await request.json()})

    async def ticks(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            # The client sets `step` only after it has read the first chunk, so the second
            # can only be produced if the first was delivered on its own.
            await asyncio.wait_for(step.wait(), 10)
            yield b"second\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def upload(request: Request) -> Response:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return JSONResponse({"received": size})

    members = {client_identity.node_id: (client_identity.public_key_b64, "member")}
    app = create_peer_app(
        [
            Route("/peer/whoami", whoami, methods=["POST"]),
            Route("/peer/ticks", ticks, methods=["GET"]),
            body_limit(Route("/peer/upload", upload, methods=["POST"]), 64 * 65536),
        ],
        key_of=members.get,
        nonces=NonceCache(server_identity.node_id),
        metrics=Metrics(),
    )
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="off",
        ssl_certfile=str(server_identity.tls_cert_path),
        ssl_keyfile=str(server_identity.tls_key_path),
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "peer server failed to start"
        await asyncio.sleep(0.01)
    yield PeerServer(server_identity, client_identity, sock.getsockname()[1], step)
    server.should_exit = True
    await asyncio.wait_for(task, 10)


async def test_signed_request_reaches_the_handler_as_the_caller(peer_server: PeerServer) -> None:
    client = PeerClient(peer_server.client_identity)
    try:
        response = await client.request(
            peer_server.target(), "POST", "/peer/whoami", json_body={"hello": 1}
        )
    finally:
        await client.close()
    assert response.status_code == 200
    assert response.json() == {"caller": peer_server.client_identity.node_id, "body": {"hello": 1}}


async def test_other_certificate_is_refused_before_sending(
    tmp_path: Path, peer_server: PeerServer
) -> None:
    stranger = load_or_create_identity(tmp_path / "stranger")
    client = PeerClient(peer_server.client_identity)
    try:
        with pytest.raises(PeerUnreachable):
            await client.request(
                peer_server.target(cert_from=stranger), "POST", "/peer/whoami", json_body={}
            )
    finally:
        await client.close()


async def test_streamed_response_arrives_chunk_by_chunk(peer_server: PeerServer) -> None:
    client = PeerClient(peer_server.client_identity)
    try:
        async with client.stream(peer_server.target(), "GET", "/peer/ticks") as response:
            lines = response.aiter_lines()
            assert await anext(lines) == "first"
            peer_server.step.set()
            assert await anext(lines) == "second"
    finally:
        await client.close()


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for i in range(count):
        yield bytes([i % 256]) * size


def _digest(count: int, size: int) -> str:
    hasher = hashlib.sha256()
    for i in range(count):
        hasher.update(bytes([i % 256]) * size)
    return hasher.hexdigest()


async def test_streamed_request_body_with_its_digest(peer_server: PeerServer) -> None:
    client = PeerClient(peer_server.client_identity)
    try:
        async with client.stream(
            peer_server.target(),
            "POST",
            "/peer/upload",
            content=_chunks(64, 65536),
            content_sha256=_digest(64, 65536),
        ) as response:
            await response.aread()
        assert response.status_code == 200
        assert response.json() == {"received": 64 * 65536}
        async with client.stream(
            peer_server.target(),
            "POST",
            "/peer/upload",
            content=_chunks(8, 1024),
            content_sha256=_digest(7, 1024),
        ) as response:
            await response.aread()
        assert response.status_code == 400
        assert response.json()["error_code"] == "BODY_DIGEST_MISMATCH"
    finally:
        await client.close()
