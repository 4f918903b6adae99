"""Finding 12: every peer route has a body bound, enforced before the route reads anything.

A member pushes 100 MB, declared up front or streamed in chunks; the listener refuses it
with 413 (or stops reading and closes), and the agent's memory does not grow with it."""

from __future__ import annotations

import hashlib
import select
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.storage.blocks import CHUNK_SIZE
from tests.harness import AgentProcess
from tests.security.peer_support import (
    cluster,
    identity_of,
    metric_sum,
    node_id,
    peer_client,
    peer_port,
    read_status,
    rss,
    signed,
    tls_connect,
)

HUGE = 100 * 1024 * 1024
PIECE = 64 * 1024
ANY_DIGEST = "0" * 64
MAX_GROWTH = 16 * 1024 * 1024
ROUTES = ["/peer/membership", "/peer/heartbeat", "/peer/storage/manifests", "/peer/tasks/exec"]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    with cluster(tmp_path, 2) as agents:
        yield agents


def head(target: str, headers: dict[str, str], framing: str) -> bytes:
    lines = [f"POST {target} HTTP/1.1", "host: 127.0.0.1", framing]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer_so_far(sock: ssl.SSLSocket) -> bytes | None:
    """What the server has sent, without waiting: None when nothing (TLS session tickets
    make the socket readable without application data), b"" when it hung up."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable and not sock.pending():
        return None
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except ssl.SSLWantReadError:
        return None
    finally:
        sock.settimeout(10)


def stream_huge(sock: ssl.SSLSocket) -> tuple[int, int | None]:
    """Send up to HUGE bytes in chunked pieces until the server answers or hangs up; answers
    (bytes sent, status or None when the connection was reset before it could be read)."""
    piece = b"%x\r\n%s\r\n" % (PIECE, b"7" * PIECE)
    sent = 0
    try:
        while sent < HUGE:
            answer = answer_so_far(sock)
            if answer is not None:
                return sent, int(answer.split(b" ", 2)[1]) if answer else None
            sock.sendall(piece)
            sent += PIECE
    except (TimeoutError, ConnectionError, ssl.SSLError):
        return sent, None
    return sent, read_status(sock)


def test_a_declared_huge_body_is_refused_unread(pair: list[AgentProcess]) -> None:
    receiver, caller = pair
    identity = identity_of(caller)
    before = rss(receiver)
    for target in [*ROUTES, "/api/cluster/join"]:
        headers = signed(identity, node_id(receiver), "POST", target, digest=ANY_DIGEST)
        with tls_connect(peer_port(receiver)) as sock:
            sock.sendall(head(target, headers, f"content-length: {HUGE}"))
            assert read_status(sock) == 413, target
    assert rss(receiver) - before < MAX_GROWTH


@pytest.mark.parametrize("target", ["/peer/storage/manifests", "/peer/membership"])
def test_a_streamed_huge_body_is_cut_off(pair: list[AgentProcess], target: str) -> None:
    receiver, caller = pair
    refused_before = metric_sum(receiver, "openfabric_http_requests", route=target, status="413")
    before = rss(receiver)
    headers = signed(identity_of(caller), node_id(receiver), "POST", target, digest=ANY_DIGEST)
    with tls_connect(peer_port(receiver)) as sock:
        sock.sendall(head(target, headers, "transfer-encoding: chunked"))
        sent, status = stream_huge(sock)
    assert sent < HUGE // 2, f"the listener read {sent} bytes of {target}"
    assert status in (413, None)
    refused = metric_sum(receiver, "openfabric_http_requests", route=target, status="413")
    assert refused == refused_before + 1
    assert rss(receiver) - before < MAX_GROWTH


def test_a_route_can_declare_a_larger_limit(pair: list[AgentProcess]) -> None:
    receiver, caller = pair
    identity = identity_of(caller)
    with peer_client(receiver, timeout=30) as client:
        for size, expected in ((CHUNK_SIZE, 200), (CHUNK_SIZE + 1, 413)):
            data = bytes([size % 251]) * size
            digest = hashlib.sha256(data).hexdigest()
            target = f"/peer/storage/chunks/{digest}"
            headers = signed(identity, node_id(receiver), "PUT", target, data)
            response = client.put(target, content=data, headers=headers)
            assert response.status_code == expected, response.text
        # The default bound (max_body_bytes, 1 MiB) on a route that declares none.
        body = b'{"task_id": "x", "command": "' + b"a" * (1024 * 1024) + b'"}'
        headers = signed(identity, node_id(receiver), "POST", "/peer/tasks/exec", body)
        response = client.post("/peer/tasks/exec", content=body, headers=headers)
        assert response.status_code == 413, response.text
