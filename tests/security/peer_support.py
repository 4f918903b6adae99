"""What the peer-listener attack tests share: signing as a member, raw TLS, clusters."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from agent.peer.identity import Identity, load_or_create_identity
from agent.peer.signing import (
    DIGEST,
    NODE,
    NONCE,
    RECEIVER,
    SIGNATURE,
    TIMESTAMP,
    canonical,
)
from agent.peer.tls import pinned_context
from tests.harness import AgentProcess, agent_processes, call, form_cluster


def identity_of(agent: AgentProcess) -> Identity:
    return load_or_create_identity(agent.home)


def node_id(agent: AgentProcess) -> str:
    return str(agent.info["node_id"])


def peer_port(agent: AgentProcess) -> int:
    return int(agent.info["peer_port"])


def peer_client(agent: AgentProcess, timeout: float = 10) -> httpx.Client:
    cert = (agent.home / "identity" / "tls.crt").read_text()
    return httpx.Client(
        base_url=f"https://127.0.0.1:{peer_port(agent)}",
        verify=pinned_context(cert),
        timeout=timeout,
    )


def signed(
    identity: Identity,
    receiver: str,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    timestamp: str | None = None,
    digest: str | None = None,
) -> dict[str, str]:
    """Headers as a member signs them, with any timestamp text (signed as given)."""
    stamp = f"{time.time():.3f}" if timestamp is None else timestamp
    nonce = secrets.token_hex(16)
    digest = hashlib.sha256(body).hexdigest() if digest is None else digest
    message = canonical(method, target, stamp, nonce, digest, identity.node_id, receiver)
    return {
        NODE: identity.node_id,
        RECEIVER: receiver,
        TIMESTAMP: stamp,
        NONCE: nonce,
        DIGEST: digest,
        SIGNATURE: base64.b64encode(identity.sign(message)).decode(),
        "content-type": "application/json",
    }


def error_code(response: httpx.Response) -> str:
    return str(response.json().get("error_code"))


@contextlib.contextmanager
def cluster(tmp_path: Path, size: int, *args: str) -> Iterator[list[AgentProcess]]:
    with agent_processes([tmp_path / f"node{i}" for i in range(size)], *args) as agents:
        form_cluster(agents)
        yield agents


def rss(agent: AgentProcess) -> int:
    return int(psutil.Process(agent.process.pid).memory_info().rss)


def status_within(agent: AgentProcess, seconds: float) -> float:
    """Seconds /api/status took; fails if it took longer than `seconds` or did not answer."""
    begin = time.monotonic()
    response = httpx.get(agent.url + "/api/status", headers=agent.headers(), timeout=seconds)
    took = time.monotonic() - begin
    assert response.status_code == 200, response.text
    return took


def tls_connect(port: int, source: str = "127.0.0.1", timeout: float = 10) -> ssl.SSLSocket:
    """A finished TLS handshake with the peer listener, trusting any certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    return context.wrap_socket(raw)


def http_request_head(method: str, target: str, headers: dict[str, str], port: int) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_request(
    port: int, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """One request with header values sent byte for byte as given (UTF-8), which HTTP
    clients refuse to do for values like "  12"; answers (status, response body)."""
    lines = [f"{method} {target} HTTP/1.1", "host: 127.0.0.1", "connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"content-length: {len(body)}")
    with tls_connect(port) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def read_status(sock: ssl.SSLSocket) -> int:
    """The status code of the response the server sends on `sock`."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed before a status line: {data!r}")
        data += chunk
    return int(data.split(b" ", 2)[1])


def metric_sum(agent: AgentProcess, family: str, **labels: str) -> float:
    families = call(agent, "GET", "/api/metrics").json()["metrics"]
    found = next((f for f in families if f["name"] == family), None)
    if found is None:
        return 0.0
    return sum(
        float(s["value"])
        for s in found["samples"]
        if all(s["labels"].get(k) == v for k, v in labels.items())
        and not s["name"].endswith("_created")
    )
