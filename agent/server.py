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

import uvicorn

from agent import __version__
from agent.app import create_app
from agent.settings import Settings

log = logging.getLogger("openfabric")
GRACEFUL_SHUTDOWN_S = 1.0
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class ServeError(Exception):
    """The agent cannot start (address in use, no permission); the message says why."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
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
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(console)
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    file = logging.handlers.RotatingFileHandler(
        logs / "agent.log", maxBytes=5 * 2**20, backupCount=3, encoding="utf-8"
    )
    file.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(file)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


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


class _AgentServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, settings: Settings, node_id: str) -> None:
        super().__init__(config)
        self.settings = settings
        self.node_id = node_id
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)
        if self.started:
            write_agent_file(self.settings, self.node_id)
            log.info("local API on http://%s:%d", self.settings.host, self.settings.port)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn re-raises SIGTERM after serving, which ends the process before any
        # caller's cleanup, so agent.json is removed here.
        remove_agent_file(self.settings.home)
        await super().shutdown(sockets=sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = self.config.app
        if self._loop is not None and hasattr(app, "state"):
            self._loop.call_soon_threadsafe(app.state.bus.close)
        super().handle_exit(sig, frame)


def serve(settings: Settings) -> None:
    """Run the agent in the foreground until a signal stops it; raises ServeError."""
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    configure_logging(settings)
    sock = bind(settings.host, settings.port)
    settings = settings.replace(port=sock.getsockname()[1])
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="on",
    )
    server = _AgentServer(config, settings, app.state.ctx.identity.node_id)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        remove_agent_file(settings.home)
    if not server.started:
        raise ServeError("the agent failed to start; see the log above")
