"""Finding 3: the peer port cannot be exhausted without authenticating.

Connections that never finish TLS, finish it and send nothing, or trickle a request head one
byte at a time are closed after `peer_handshake_timeout`; past `peer_max_connections` (or
`peer_max_connections_per_address`) they are closed at once. The agent runs with a hard
limit of 256 open files, where the old listener let a few hundred idle connections take every
descriptor and stopped the local API.
"""

from __future__ import annotations

import resource
import select
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.harness import AgentProcess, agent_process, wait_until
from tests.security.peer_support import (
    metric_sum,
    peer_port,
    read_status,
    status_within,
    tls_connect,
)

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="sets another process's open-file limit; uses 127.0.0.x"
)

CAP = 50
PER_ADDRESS = 40
HANDSHAKE_TIMEOUT = 1.0
ATTACK = 300
FILE_LIMIT = 256
SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[AgentProcess]:
    with agent_process(
        tmp_path / "target",
        "--peer-max-connections",
        str(CAP),
        "--peer-max-connections-per-address",
        str(PER_ADDRESS),
        "--peer-handshake-timeout",
        str(HANDSHAKE_TIMEOUT),
    ) as agent:
        resource.prlimit(agent.process.pid, resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))
        yield agent


def open_idle(port: int, count: int, sources: list[str]) -> list[socket.socket]:
    sockets = []
    for i in range(count):
        sock = socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(sources[i % len(sources)], 0)
        )
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(4096) == b""
    except (ssl.SSLWantReadError, BlockingIOError):
        # TLS session tickets, or half a record: readable, but nothing for the application.
        return False
    except (ConnectionResetError, ssl.SSLError):
        return True


def wait_all_closed(sockets: list[socket.socket], within: float, message: str) -> None:
    closed: set[socket.socket] = set()

    def all_closed() -> bool:
        closed.update(s for s in sockets if s not in closed and closed_by_server(s))
        return len(closed) == len(sockets)

    wait_until(all_closed, within, message)


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


@pytest.mark.slow
def test_idle_connections_do_not_starve_the_local_api(target: AgentProcess) -> None:
    pid = target.process.pid
    baseline_fds = psutil.Process(pid).num_fds()
    sockets = open_idle(peer_port(target), ATTACK, SOURCES)
    try:
        for _ in range(5):
            assert status_within(target, 2.0) < 2.0
        assert psutil.Process(pid).num_fds() <= baseline_fds + CAP + 10
        wait_until(
            lambda: (
                metric_sum(target, "openfabric_peer_connections_refused", reason="total")
                >= ATTACK - CAP
            ),
            10,
            "the connections over the cap to be closed",
        )
        assert metric_sum(target, "openfabric_peer_connections") <= CAP
        # The ones admitted never start TLS: the handshake deadline closes them too.
        wait_all_closed(sockets, 10, "every idle connection closed")
        assert status_within(target, 2.0) < 2.0
    finally:
        close_all(sockets)
    log = target.log()
    # One warning per refused connection would be 250 lines; repeats are rate-limited.
    assert log.count("peer connection from") <= 12, log[-3000:]
    assert len(log.encode()) < 200_000


def test_tls_connections_that_send_nothing_are_closed(target: AgentProcess) -> None:
    port = peer_port(target)
    sockets = [tls_connect(port, SOURCES[i % len(SOURCES)]) for i in range(CAP - 5)]
    begin = time.monotonic()
    try:
        for sock in sockets:
            sock.setblocking(False)
        wait_all_closed(sockets, 10, "idle TLS connections closed")
        assert time.monotonic() - begin < HANDSHAKE_TIMEOUT + 5
    finally:
        close_all(sockets)


@pytest.mark.slow
def test_a_trickled_request_head_is_closed_on_time(target: AgentProcess) -> None:
    sock = tls_connect(peer_port(target))
    sock.setblocking(False)
    head = b"GET /join/x HTTP/1.1\r\nhost: x\r\n" + b"x-pad: " + b"a" * 4000
    begin = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - begin < 15 and sent < len(head):
            try:
                sock.sendall(head[sent : sent + 1])
            except OSError:
                break
            sent += 1
            # Bounded poll for the server's close between bytes: activity must not extend it.
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable and closed_by_server(sock):
                break
        took = time.monotonic() - begin
        assert sent < len(head), "the server kept reading a request head for 15 s"
        assert took < HANDSHAKE_TIMEOUT + 5
    finally:
        sock.close()


def test_one_address_cannot_take_every_slot(target: AgentProcess) -> None:
    port = peer_port(target)
    flood = open_idle(port, 100, ["127.0.0.2"])
    try:
        wait_until(
            lambda: (
                metric_sum(target, "openfabric_peer_connections_refused", reason="per_address")
                >= 100 - PER_ADDRESS
            ),
            10,
            "the connections over the per-address cap to be closed",
        )
        # Another address is still served while the first one is at its cap.
        with tls_connect(port, "127.0.0.3") as sock:
            sock.sendall(b"GET /join/not-a-token HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            assert read_status(sock) in (400, 404, 410)
    finally:
        close_all(flood)
