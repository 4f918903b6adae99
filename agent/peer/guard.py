"""Bounds on the peer listener's connections, enforced before a byte of TLS is read.

The peer port is open to the LAN, so a stranger can open connections without ever
authenticating. Each one costs a file descriptor, and the descriptors are shared with the
local API, the database and running tasks. `ConnectionGuard` is the listening socket's
protocol: it sees every connection the moment it is accepted and

- closes it at once when `max_connections` are open, or `max_per_address` from the same
  address (an IPv6 caller counts by its /64, which one host can fill on its own). This
  happens in the listening socket's `accept()` (`GuardedListener`): asyncio accepts up to
  its whole backlog per wake-up before any protocol runs, so a burst refused any later would
  still take a descriptor per connection for a moment;
- runs the TLS handshake itself, bounded by `handshake_timeout` (asyncio's default is 60 s);
- hands the encrypted stream to the HTTP protocol, which then has `handshake_timeout` again
  to receive the first request's headers (see `serving.PeerH11Protocol`);
- aborts a connection whose reader stops reading a response for `write_stall_timeout`
  (pipelined requests whose answers are never read would otherwise hold it forever), and
  gives a closing TLS connection `handshake_timeout` for its close_notify, not asyncio's 30 s.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

from agent.core.metrics import Metrics

log = logging.getLogger("openfabric.peer")
# Refusals per wake-up of the listening socket, so a flood cannot hold the event loop.
REFUSALS_PER_ACCEPT = 256
Peer = tuple[str, int] | tuple[str, int, int, int]


@dataclass(frozen=True)
class GuardLimits:
    max_connections: int
    max_per_address: int
    handshake_timeout: float
    write_stall_timeout: float = 60.0


def address_key(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ConnectionGuard:
    def __init__(
        self,
        limits: GuardLimits,
        ssl_context: ssl.SSLContext,
        http_factory: Callable[[], asyncio.Protocol],
        metrics: Metrics | None = None,
    ) -> None:
        self.limits = limits
        self.ssl_context = ssl_context
        self.http_factory = http_factory
        self.open = 0
        self.by_address: dict[str, int] = {}
        self.connections: set[GuardedConnection] = set()
        # Admitted by accept(), not yet taken over by their protocol.
        self._accepted: set[tuple[object, ...]] = set()
        self._refused: Counter | None = None
        if metrics is not None:
            self._refused = metrics.counter(
                "peer_connections_refused_total",
                "Peer connections closed by the connection guard, by reason",
                ["reason"],
            )
            metrics.gauge_callback(
                "peer_connections", "Connections open on the peer listener", lambda: self.open
            )

    def protocol(self) -> GuardedConnection:
        """The protocol factory for `loop.create_server`."""
        return GuardedConnection(self)

    def admit(self, peer: Peer) -> bool:
        """Count a connection from `peer` (ip, port, ...) in, or refuse it."""
        key = address_key(str(peer[0]))
        reason = None
        if self.open >= self.limits.max_connections:
            reason = "total"
        elif self.by_address.get(key, 0) >= self.limits.max_per_address:
            reason = "per_address"
        if reason is not None:
            self._refuse(key, reason)
            return False
        self.open += 1
        self.by_address[key] = self.by_address.get(key, 0) + 1
        self._accepted.add(tuple(peer))
        return True

    def claim(self, connection: GuardedConnection, peer: Peer | None) -> bool:
        """The protocol of a connection takes over its admission; one that did not come
        through `GuardedListener.accept` (another event loop) is admitted here."""
        if peer is None:
            return False
        if tuple(peer) not in self._accepted and not self.admit(peer):
            return False
        self._accepted.discard(tuple(peer))
        self.connections.add(connection)
        return True

    def _refuse(self, key: str, reason: str) -> None:
        if self._refused is not None:
            self._refused.labels(reason).inc()
        log.warning(
            "peer connection from %s closed: %s (open %d, cap %d total, %d per address)",
            key,
            reason.replace("_", " "),
            self.open,
            self.limits.max_connections,
            self.limits.max_per_address,
        )

    def release(self, connection: GuardedConnection) -> None:
        self.connections.discard(connection)
        self.open -= 1
        left = self.by_address.get(connection.address, 1) - 1
        if left > 0:
            self.by_address[connection.address] = left
        else:
            self.by_address.pop(connection.address, None)

    def close_pending(self) -> None:
        """At shutdown: drop connections the HTTP server does not know of yet."""
        for connection in list(self.connections):
            if connection.http is None:
                connection.abort()


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: admitted or closed, then TLS, then relayed to HTTP."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.address = ""
        self.http: asyncio.Protocol | None = None
        self._raw: asyncio.Transport | None = None
        self._handshake: asyncio.Task[None] | None = None
        self._admitted = False
        self._early: list[bytes] = []
        self._stalled: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._raw = transport
        peer = transport.get_extra_info("peername")
        self.address = address_key(str(peer[0])) if peer else ""
        if not self.guard.claim(self, peer):
            transport.abort()
            return
        self._admitted = True
        # start_tls resumes reading; until then no ClientHello may reach this protocol.
        transport.pause_reading()
        self._handshake = asyncio.get_running_loop().create_task(self._start_tls(transport))

    async def _start_tls(self, raw: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.guard.limits.handshake_timeout
        try:
            tls = await loop.start_tls(
                raw,
                self,
                self.guard.ssl_context,
                server_side=True,
                ssl_handshake_timeout=timeout,
                ssl_shutdown_timeout=timeout,
            )
        except Exception as exc:  # a failed or timed-out handshake, in any of its forms
            log.debug("peer TLS handshake from %s failed: %r", self.address, exc)
            self.abort()
            return
        if tls is None or not self._admitted:
            self.abort()
            return
        http = self.guard.http_factory()
        self.http = http
        http.connection_made(tls)
        arm = getattr(http, "arm_header_deadline", None)
        if arm is not None:
            arm(timeout)
        # Application data that arrived with the end of the handshake, before this resumed.
        early, self._early = self._early, []
        for data in early:
            http.data_received(data)

    def abort(self) -> None:
        if self._raw is not None:
            self._raw.abort()
        self._release()

    def _write_stalled(self) -> None:
        log.info("peer connection from %s closed: it stopped reading", self.address)
        self.abort()

    def _release(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None
        if self._admitted:
            self._admitted = False
            self.guard.release(self)

    def data_received(self, data: bytes) -> None:
        if self.http is None:
            self._early.append(data)
        else:
            self.http.data_received(data)

    def eof_received(self) -> bool | None:
        return self.http.eof_received() if self.http is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self._handshake is not None and not self._handshake.done():
            self._handshake.cancel()
        if self.http is not None:
            self.http.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._stalled is None and self._admitted:
            self._stalled = asyncio.get_running_loop().call_later(
                self.guard.limits.write_stall_timeout, self._write_stalled
            )
        if self.http is not None:
            self.http.pause_writing()

    def resume_writing(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None
        if self.http is not None:
            self.http.resume_writing()


class GuardedListener(socket.socket):
    """The listening socket, refusing connections over the caps as it accepts them."""

    guard: ConnectionGuard

    @classmethod
    def wrap(cls, sock: socket.socket, guard: ConnectionGuard) -> GuardedListener:
        # A duplicate descriptor: asyncio closes this one when serving stops.
        listener = cls(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        listener.guard = guard
        return listener

    def accept(self) -> tuple[socket.socket, Peer]:
        for _ in range(REFUSALS_PER_ACCEPT):
            # BlockingIOError once no connection is waiting, which ends asyncio's accept loop.
            conn, peer = super().accept()
            if self.guard.admit(peer):
                return conn, peer
            conn.close()
        raise BlockingIOError("refused enough for one wake-up; the rest wait for the next")
