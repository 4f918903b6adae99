"""Start real agents for tests: in-process uvicorn on port 0, or `openfabric serve` subprocesses.

Every wait here is bounded and polls for a condition; nothing sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from agent.app import create_app
from agent.peer.identity import Identity
from agent.peer.signing import sign_headers
from agent.peer.tls import pinned_context
from agent.server import bind
from agent.settings import Settings
from tests.wire_check import checked

REPO = Path(__file__).resolve().parent.parent


def wait_until(condition: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.02)


async def async_wait_until(condition: Callable[[], Any], within: float, message: str) -> Any:
    """`condition` may be a coroutine function: its result is awaited."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within}s waiting for {message}")
        await asyncio.sleep(0.02)


def make_settings(home: Path, **overrides: Any) -> Settings:
    # mDNS off: in-process test agents must not announce themselves on the real network.
    return Settings(home=home, telemetry_interval=0.2, **{"mdns": False, **overrides})


@dataclass
class LiveAgent:
    url: str
    token: str
    settings: Settings
    server: uvicorn.Server

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 10)
        return httpx.AsyncClient(base_url=self.url, headers=headers, **kwargs)


@asynccontextmanager
async def live_agent(settings: Settings) -> AsyncIterator[LiveAgent]:
    """A real uvicorn serving the real app on a free loopback port, in this event loop."""
    sock = bind("127.0.0.1", 0)
    settings = settings.replace(host="127.0.0.1", port=sock.getsockname()[1])
    app = checked(create_app(settings))
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await async_wait_until(lambda: server.started or task.done(), 15, "uvicorn to start")
        if task.done():
            task.result()
        token = (settings.home / "local.token").read_text().strip()
        yield LiveAgent(f"http://127.0.0.1:{settings.port}", token, settings, server)
    finally:
        app.state.bus.close()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@dataclass
class AgentProcess:
    home: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.home / "agent.json").read_text())

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def token(self) -> str:
        return (self.home / "local.token").read_text().strip()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise


def agent_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENFABRIC_")}
    env.update({"OPENFABRIC_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


@contextmanager
def agent_process(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    ready_timeout: float = 30,
    command: Sequence[str] = (sys.executable, "-m", "agent"),
    cwd: Path = REPO,
) -> Iterator[AgentProcess]:
    """`python -m agent` (or `command`, e.g. an installed `openfabric serve`) as a real
    subprocess on free ports; waits until it answers."""
    home.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / f"{home.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *command,
                "--port",
                "0",
                "--peer-port",
                "0",
                "--peer-host",
                "127.0.0.1",
                "--advertise-address",
                "127.0.0.1",
                "--mdns",
                "off",
                "--telemetry-interval",
                "0.2",
                *args,
            ],
            cwd=cwd,
            env=agent_env(home, env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    agent = AgentProcess(home, process, log_path)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"agent exited with {process.returncode}:\n{agent.log()}")
            if not (home / "agent.json").exists():
                return False
            try:
                return httpx.get(agent.url + "/api/health", timeout=2).status_code < 600
            except httpx.HTTPError:
                return False

        wait_until(ready, ready_timeout, "the agent to answer /api/health")
        yield agent
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def call(agent: AgentProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to an agent's local API with its token."""
    kwargs.setdefault("timeout", 30)
    return httpx.request(method, agent.url + path, headers=agent.headers(), **kwargs)


@contextmanager
def agent_processes(homes: list[Path], *args: str) -> Iterator[list[AgentProcess]]:
    """Several agents started side by side (each waits for its own readiness)."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(agent_process(home, *args)) for home in homes]


def online_count(agent: AgentProcess) -> int:
    body = call(agent, "GET", "/api/status").json()
    return int(body["online_count"]) if body.get("node_count") else 0


def join(joiner: AgentProcess, issuer: AgentProcess) -> httpx.Response:
    token = call(issuer, "GET", "/api/cluster/join-token").json()["token"]
    return call(joiner, "POST", "/api/cluster/join-remote", json={"token": token})


def form_cluster(agents: list[AgentProcess], timeout: float = 20) -> None:
    """Join every agent to the first one's cluster and wait until all see all online."""
    for joiner in agents[1:]:
        response = join(joiner, agents[0])
        assert response.status_code == 200, response.text
    for agent in agents:
        wait_until(
            lambda a=agent: online_count(a) == len(agents),
            timeout,
            f"{agent.home.name} to see {len(agents)} nodes online",
        )


def replay_events(agent: AgentProcess, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event still in the agent's replay ring under `prefix`, oldest first."""
    found: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream(
        "GET",
        agent.url + "/api/events",
        headers=agent.headers(),
        params={"topics": prefix, "last_event_id": "0"},
        timeout=10,
    ) as response:
        topic = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                topic = line[7:]
            elif line.startswith("data: ") and topic is not None:
                if topic == "stream.replayed":
                    break
                found.append((topic, json.loads(line[6:])))
    return found


def signed_peer_post(
    target: AgentProcess, sender: Identity, path: str, body: bytes
) -> httpx.Response:
    """POST `body` to `target`'s peer listener as `sender` would: signed by its key, the
    target's certificate pinned. What a (possibly hostile) member can send."""
    headers = sign_headers(
        sender.sign,
        sender.node_id,
        "POST",
        path,
        hashlib.sha256(body).hexdigest(),
        receiver=target.info["node_id"],
    )
    cert = (target.home / "identity" / "tls.crt").read_text()
    with httpx.Client(
        base_url=f"https://127.0.0.1:{target.info['peer_port']}",
        verify=pinned_context(cert),
        timeout=30,
    ) as client:
        return client.post(
            path, content=body, headers={**headers, "content-type": "application/json"}
        )
