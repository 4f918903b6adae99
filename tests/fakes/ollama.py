"""A fake Ollama server that speaks Ollama's real HTTP API, for tests (Ollama can't run here).

In-process (same event loop as the test):

    async with serve_fake_ollama(models=["llama3.1:8b"]) as server:
        client = ollama.AsyncClient(host=server.url)
        server.fake.fail_next(500, "boom")     # script it; assert on server.fake.calls
        await server.stop(); await server.start()  # down, then up again on the same port

As a subprocess (one Ollama per agent in multi-node tests):

    python -m tests.fakes.ollama --port 0 --state-file state.json   # prints its URL

or `with fake_ollama_process(tmp_path / "ollama.json", models=[...]) as proc: proc.url`.
The state file holds config + models; the process writes pulls/deletes back to it, so a
restarted process still has them. `/_fake/*` endpoints script a running process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.fakes.ollama_app import FakeOllama, ReplyFn, ToolPlanner
from tests.fakes.ollama_models import CATALOG, ModelSpec, catalog_model, make_model
from tests.fakes.ollama_proto import Failure, Loaded, Recorded

__all__ = [
    "CATALOG", "Failure", "FakeOllama", "FakeOllamaProcess", "FakeOllamaServer", "Loaded",
    "ModelSpec", "Recorded", "ReplyFn", "ToolPlanner", "catalog_model", "fake_ollama_process",
    "make_model", "serve_fake_ollama",
]  # fmt: skip

REPO = Path(__file__).resolve().parents[2]


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP so asyncio sets TCP_NODELAY, as Ollama (Go) has: otherwise each kept-alive
    # stream's first chunk waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind the same port at once
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn(fake: FakeOllama) -> uvicorn.Server:
    config = uvicorn.Config(
        fake, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1
    )
    return uvicorn.Server(config)


class FakeOllamaServer:
    """`fake` served by uvicorn in this event loop; `stop()`/`start()` keep the port, so a
    stopped server refuses connections at the same URL (Ollama down) until started again."""

    def __init__(self, fake: FakeOllama, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake, self.host, self.port = fake, host, port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def up(self) -> bool:
        return self._task is not None and not self._task.done()

    def reserve_port(self) -> None:
        """Pick a free port without serving on it (a server that starts out down)."""
        if not self.port:
            with contextlib.closing(_bind(self.host, 0)) as sock:
                self.port = sock.getsockname()[1]

    async def start(self, timeout: float = 10) -> None:
        if self.up:
            return
        self._sock = _bind(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        server = self._server = _uvicorn(self.fake)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        task = self._task = asyncio.create_task(server.serve(sockets=[self._sock]))
        deadline = time.monotonic() + timeout
        while not server.started and not task.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake Ollama did not start within {timeout}s")
            await asyncio.sleep(0.005)
        if task.done():
            task.result()

    async def stop(self, timeout: float = 10) -> None:
        """Go down abruptly: close the listener, drop open connections (streams included)."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = server.force_exit = True
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        for request_task in list(server.server_state.tasks):
            request_task.cancel()
        try:
            await asyncio.wait_for(task, timeout)
        finally:
            if self._sock is not None:
                self._sock.close()
            self._server = self._task = self._sock = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def set_up(self, up: bool) -> None:
        await (self.start() if up else self.stop())

    async def __aenter__(self) -> FakeOllamaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@asynccontextmanager
async def serve_fake_ollama(
    fake: FakeOllama | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    up: bool = True,
    **config: Any,
) -> AsyncIterator[FakeOllamaServer]:
    """Serve `fake` (or `FakeOllama(**config)`) on a free loopback port for the block."""
    server = FakeOllamaServer(fake if fake is not None else FakeOllama(**config), host, port)
    if up:
        await server.start()
    else:
        server.reserve_port()
    try:
        yield server
    finally:
        await server.stop()


def _write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)


class FakeOllamaProcess:
    """`python -m tests.fakes.ollama` as a child process; `start()` after `stop()` reuses
    the port. `stats()`, `fail_next()`, `hold()`/`release()`, `configure()` go through
    the `/_fake/*` endpoints."""

    def __init__(self, state_file: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state_file, self.host, self.port = state_file, host, port
        self.log_path = state_file.with_name(state_file.name + ".log")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20) -> None:
        args = ["--host", self.host, "--port", str(self.port), "--state-file", str(self.state_file)]
        with self.log_path.open("ab") as log:
            process = self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.ollama", *args],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline().decode().strip() if readable else ""
        if not line.startswith("http://"):
            self.stop(crash=True)
            raise RuntimeError(f"fake Ollama did not start: {self.log_path.read_text()}")
        self.port = int(line.rsplit(":", 1)[1])
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"fake Ollama is not answering: {self.log_path.read_text()}")
            time.sleep(0.02)

    def stop(self, *, crash: bool = False, timeout: float = 10) -> None:
        """SIGTERM (or SIGKILL with crash=True) and wait."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text()))

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        method = "GET" if body is None else "POST"
        response = httpx.request(method, f"{self.url}/_fake/{path}", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def stats(self) -> dict[str, Any]:
        return self.control("stats")

    def fail_next(self, status: int = 500, error: str = "boom", **kw: Any) -> None:
        self.control("fail_next", {"status": status, "error": error, **kw})

    def hold(self, *, pulls: bool = False) -> None:
        self.control("gate", {"open": False, "pulls": pulls})

    def release(self) -> None:
        self.control("gate", {"open": True})

    def configure(self, **values: Any) -> dict[str, Any]:
        return self.control("config", values)

    def script_tool_calls(self, *rounds: list[dict[str, Any]]) -> None:
        """Queue rounds of tool calls for the chats that offer tools (replaces the queue)."""
        self.configure(tool_rounds=list(rounds))


@contextmanager
def fake_ollama_process(
    state_file: Path, fake: FakeOllama | None = None, *, port: int = 0, **config: Any
) -> Iterator[FakeOllamaProcess]:
    """Write `fake`'s (or `FakeOllama(**config)`'s) state to `state_file` (unless it exists
    and neither is given), start the process, and stop it after the block."""
    if fake is not None or config or not state_file.exists():
        _write_state(state_file, (fake or FakeOllama(**config)).to_state())
    proc = FakeOllamaProcess(state_file, port=port)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.ollama", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)
    path: Path | None = args.state_file
    fake = FakeOllama.from_state(json.loads(path.read_text()) if path and path.exists() else {})
    if path is not None:
        fake.on_change = lambda: _write_state(path, fake.to_state())
        fake.on_change()
    sock = _bind(args.host, args.port)
    print(f"http://{args.host}:{sock.getsockname()[1]}", flush=True)
    asyncio.run(_uvicorn(fake).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
