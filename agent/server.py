"""Runs the agent: binds, serves, writes `<home>/agent.json`, stops promptly on a signal.

The socket is bound before the app is built, so `port 0` resolves to the real port that the
Host check, agent.json and every client then use, and a port in use is reported plainly.
On SIGINT/SIGTERM the event bus is closed at once, which ends every SSE stream, so open
streams never hold shutdown past uvicorn's short graceful timeout.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import logging.handlers
import os
import socket
import time
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import uvicorn

from agent import __version__
from agent.app import create_app
from agent.core.quiet_server import QuietServer
from agent.core.retention import prune_older_than
from agent.log_limits import RepeatFilter
from agent.peer.serving import PeerServer, guard_limits, peer_config, raise_open_file_limit
from agent.settings import Settings

log = logging.getLogger("openfabric")
GRACEFUL_SHUTDOWN_S = 1.0
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class ServeError(Exception):
    """The agent cannot start (address in use, no permission); the message says why."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that name it, and
    # without it Nagle + delayed ACK add ~40 ms to every keep-alive response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"cannot listen on {where}: the address is already in use "
                "(another agent? try `openfabric status`, or choose --port)"
            ) from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"cannot listen on {where}: permission denied") from None
        raise ServeError(f"cannot listen on {where}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level.upper())
    root = logging.getLogger()
    root.handlers.clear()
    # On the handlers, not the root logger: logger filters miss records from child loggers.
    repeats = RepeatFilter()
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter(LOG_FORMAT))
    console.addFilter(repeats)
    root.addHandler(console)
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if settings.log_retention_days:
        prune_older_than(logs, "agent.log.*", settings.log_retention_days * 86400)
    file = logging.handlers.RotatingFileHandler(
        logs / "agent.log", maxBytes=5 * 2**20, backupCount=3, encoding="utf-8"
    )
    file.setFormatter(logging.Formatter(LOG_FORMAT))
    file.addFilter(repeats)
    root.addHandler(file)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(level)
    # Per-request lines from the HTTP clients would drown the log (heartbeats every second).
    for name in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def agent_file(home: Path) -> Path:
    return home / "agent.json"


def write_agent_file(settings: Settings, node_id: str) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    shown = f"[{host}]" if ":" in host else host
    info: dict[str, Any] = {
        "pid": os.getpid(),
        "version": __version__,
        "node_id": node_id,
        "host": settings.host,
        "port": settings.port,
        "url": f"http://{shown}:{settings.port}",
        "peer_port": settings.peer_port,
        "started_at": time.time(),
    }
    path = agent_file(settings.home)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def remove_agent_file(home: Path) -> None:
    path = agent_file(home)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


class _AgentServer(QuietServer):
    """The local API server. The peer listener runs in a task group its main loop owns: it
    starts once the app's lifespan (database, subsystems) has started and the local API
    listens, and it has stopped before the local server's shutdown (and the lifespan's)."""

    def __init__(
        self,
        config: uvicorn.Config,
        settings: Settings,
        node_id: str,
        peer: PeerServer,
        peer_socket: socket.socket,
    ) -> None:
        super().__init__(config)
        self.settings = settings
        self.node_id = node_id
        self.peer = peer
        self.peer_socket = peer_socket
        self.peer_failed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # Signal handlers run between bytecodes of whatever is running; they reach the
        # event loop through call_soon_threadsafe.
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)

    async def main_loop(self) -> None:
        peer_done = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(self._serve_peers, peer_done)
            try:
                # uvicorn exposes `started` as a flag only, so it is polled.
                while not self.peer.started and not peer_done.is_set():  # noqa: ASYNC110
                    await anyio.sleep(0.01)
                if self.peer.started and not self.should_exit:
                    write_agent_file(self.settings, self.node_id)
                    log.info(
                        "local API on http://%s:%d, peer listener on https://%s:%d",
                        self.settings.host,
                        self.settings.port,
                        self.settings.peer_host,
                        self.settings.peer_port,
                    )
                    await super().main_loop()
            finally:
                # uvicorn re-raises SIGTERM after serving, which ends the process before any
                # caller's cleanup, so agent.json is removed here.
                remove_agent_file(self.settings.home)
                self.peer.should_exit = True

    async def _serve_peers(self, done: anyio.Event) -> None:
        failure: str | None = None
        try:
            await self.peer.serve(sockets=[self.peer_socket])
        except Exception as exc:
            failure = str(exc) or type(exc).__name__
        finally:
            done.set()
        if failure is None and not self.peer.started:
            failure = "it stopped before it started"
        if failure is not None:
            log.error("the peer listener failed: %s", failure)
            self.peer_failed = True
        # Without its peer listener this node is no member: the local API stops too.
        self.should_exit = True

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = self.config.app
        if self._loop is not None and hasattr(app, "state"):
            self._loop.call_soon_threadsafe(app.state.bus.close)
        self.peer.should_exit = True
        super().handle_exit(sig, frame)


def serve(settings: Settings) -> None:
    """Run the agent in the foreground until a signal stops it; raises ServeError."""
    # Everything the agent writes later (rotated logs, chunks, journals) is private from the
    # start; tasks get the usual 022 back when they are spawned.
    os.umask(0o077)
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    configure_logging(settings)
    open_files = raise_open_file_limit()
    sock = bind(settings.host, settings.port)
    try:
        peer_sock = bind(settings.peer_host, settings.peer_port)
    except ServeError:
        sock.close()
        raise
    settings = settings.replace(port=sock.getsockname()[1], peer_port=peer_sock.getsockname()[1])
    app = create_app(settings)
    identity = app.state.ctx.identity
    common: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    limits = guard_limits(
        settings.peer_max_connections,
        settings.peer_max_connections_per_address,
        settings.peer_handshake_timeout,
        open_files,
    )
    peer = PeerServer(
        peer_config(
            app.state.peer_app,
            str(identity.tls_cert_path),
            str(identity.tls_key_path),
            **common,
        ),
        limits,
        app.state.metrics,
    )
    server = _AgentServer(
        uvicorn.Config(app, lifespan="on", **common), settings, identity.node_id, peer, peer_sock
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        peer_sock.close()
        remove_agent_file(settings.home)
    if not server.started or server.peer_failed:
        raise ServeError("the agent failed to start; see the log above")
