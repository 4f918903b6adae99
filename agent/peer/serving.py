"""The peer listener's uvicorn server: connections go through the `ConnectionGuard`, and the
HTTP protocol gives request headers a deadline that trickled bytes do not extend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from agent.core.metrics import Metrics
from agent.core.quiet_server import QuietServer
from agent.peer.guard import ConnectionGuard, GuardedListener, GuardLimits

log = logging.getLogger("openfabric.peer")
# Descriptors kept for everything but the peer listener: the local API, the database,
# stored chunks, task pipes. The peer cap never takes more than the rest of the limit.
FD_SHARE = 2


class PeerH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol where the keep-alive timer is a deadline for the next
    request's headers: only a complete request head disarms it, not any byte received (which
    let a caller hold a connection by sending one header byte at a time)."""

    def arm_header_deadline(self, seconds: float) -> None:
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            seconds, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self.handle_events()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._unset_keepalive_if_required()


def raise_open_file_limit() -> int | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; answers the soft limit in force (None
    where there is no such limit)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    # Linux refuses an unlimited soft value for descriptors; 2**20 is its usual ceiling.
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            log.info("cannot raise the open-file limit from %d: %s", soft, exc)
    return soft


def guard_limits(
    max_connections: int, max_per_address: int, handshake_timeout: float, open_files: int | None
) -> GuardLimits:
    if open_files is not None and max_connections > open_files // FD_SHARE:
        log.warning(
            "peer_max_connections %d lowered to %d: the open-file limit is %d",
            max_connections,
            open_files // FD_SHARE,
            open_files,
        )
        max_connections = max(1, open_files // FD_SHARE)
    return GuardLimits(
        max_connections=max_connections,
        max_per_address=min(max_per_address, max_connections),
        handshake_timeout=handshake_timeout,
    )


class PeerServer(QuietServer):
    """Signals are handled by the main server, which stops this one."""

    def __init__(
        self, config: uvicorn.Config, limits: GuardLimits, metrics: Metrics | None = None
    ) -> None:
        super().__init__(config)
        self.limits = limits
        self.metrics = metrics
        self.guard: ConnectionGuard | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        config = self.config
        if not sockets or config.ssl is None:
            raise ValueError("the peer server serves TLS on sockets it is given")

        def http() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        self.guard = ConnectionGuard(self.limits, config.ssl, http, self.metrics)
        loop = asyncio.get_running_loop()
        self.servers = [
            await loop.create_server(
                self.guard.protocol,
                sock=GuardedListener.wrap(sock, self.guard),
                backlog=config.backlog,
            )
            for sock in sockets
        ]
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        if self.guard is not None:
            self.guard.close_pending()
        await super().shutdown(sockets=sockets)


def peer_config(app: Any, cert: str, key: str, **common: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        ssl_certfile=cert,
        ssl_keyfile=key,
        http=PeerH11Protocol,
        # No peer route is a websocket; an Upgrade header is just ignored.
        ws="none",
        **common,
    )
