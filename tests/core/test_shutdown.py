"""A signal stops the agent cleanly: every background job ends before what it uses is closed.

The agents are real subprocesses with an event-stream client connected; their Ollama is the
fake one, or a listener that takes requests and never answers (a backend mid-request).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.peer.identity import load_or_create_identity
from tests.fakes.ollama import FakeOllama, fake_ollama_process
from tests.harness import REPO, AgentProcess, agent_env, agent_process, wait_until

SIGNALS = [signal.SIGTERM, signal.SIGINT]
# What uvicorn leaves after a signal: it re-raises the signal once it has shut down.
CLEAN_EXITS = {0, -signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGINT}


class StallingServer:
    """Accepts connections and reads requests, never answers: an Ollama that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.received = b""
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := conn.recv(4096):
                with self._lock:
                    self.received += data

    def close(self) -> None:
        # shutdown() wakes the threads blocked in accept() and recv(); close() alone does not.
        with self._lock:
            for sock in [self.sock, *self._open]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._thread.join(5)


@contextlib.contextmanager
def stalling_ollama() -> Iterator[StallingServer]:
    server = StallingServer()
    try:
        yield server
    finally:
        server.close()


def follow_events(agent: AgentProcess) -> threading.Event:
    """An SSE client on /api/events in a thread; the event is set once its stream ended."""
    ended = threading.Event()

    def follow() -> None:
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream(
                "GET", agent.url + "/api/events", headers=agent.headers(), timeout=30
            ) as response,
        ):
            for _ in response.iter_lines():
                pass
        ended.set()

    threading.Thread(target=follow, daemon=True).start()
    wait_until(lambda: _subscribers(agent) >= 1, 10, "the SSE client to subscribe")
    return ended


def _subscribers(agent: AgentProcess) -> int:
    body = httpx.get(agent.url + "/api/metrics", headers=agent.headers()).json()
    for family in body["metrics"]:
        if family["name"] == "openfabric_sse_subscribers":
            return int(family["samples"][0]["value"])
    return 0


def stop_and_check(agent: AgentProcess, sig: int, ended: threading.Event) -> tuple[str, float]:
    """Send `sig`, wait for the exit; asserts a clean one and answers (log, seconds taken)."""
    began = time.monotonic()
    agent.process.send_signal(sig)
    code = agent.process.wait(15)
    took = time.monotonic() - began
    log = agent.log()
    assert code in CLEAN_EXITS, f"exit status {code}:\n{log}"
    assert ended.wait(5), "the SSE stream was not ended by shutdown"
    assert "Traceback" not in log, log
    assert "Cannot send a request" not in log, log
    assert "failed" not in log.lower(), log
    assert not (agent.home / "agent.json").exists()
    return log, took


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_signal_with_sse_client_and_ollama_stops_cleanly(tmp_path: Path, sig: int) -> None:
    fake = FakeOllama(models=["qwen2.5:0.5b"])
    with (
        fake_ollama_process(tmp_path / "ollama.json", fake) as ollama,
        agent_process(tmp_path / "h", "--ollama-url", ollama.url) as agent,
    ):
        wait_until(lambda: " is up " in agent.log(), 15, "the LLM monitor to reach Ollama")
        ended = follow_events(agent)
        _, took = stop_and_check(agent, sig, ended)
    assert took < 5, f"shutdown took {took:.2f}s"


@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGTERM", "SIGINT"])
def test_signal_while_the_llm_backend_is_mid_request_stops_cleanly(
    tmp_path: Path, sig: int
) -> None:
    with (
        stalling_ollama() as ollama,
        agent_process(tmp_path / "h", "--ollama-url", ollama.url) as agent,
    ):
        # The monitor's first look at Ollama is in flight, and stays there.
        wait_until(lambda: b"GET /api/version" in ollama.received, 15, "the monitor's request")
        ended = follow_events(agent)
        log, took = stop_and_check(agent, sig, ended)
    # The monitor was cancelled, not left to see its client closed under it (which it
    # would report as Ollama going down).
    assert "openfabric.llm" not in log, log
    # Well within the 5 s the stalled request could still wait.
    assert took < 4, f"shutdown took {took:.2f}s"


def test_a_peer_listener_that_cannot_start_fails_the_agent_in_order(tmp_path: Path) -> None:
    home = tmp_path / "h"
    load_or_create_identity(home)
    # A TLS key that does not match the certificate: only the peer listener notices.
    load_or_create_identity(tmp_path / "other")
    shutil.copyfile(tmp_path / "other/identity/tls.key", home / "identity/tls.key")
    result = subprocess.run(
        [sys.executable, "-m", "agent", "--port", "0", "--peer-port", "0", "--mdns", "off"],
        cwd=REPO,
        env=agent_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "the peer listener failed: " in result.stderr
    assert "key values mismatch" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    # The subsystems were stopped in order, not abandoned.
    assert "Application shutdown complete" in result.stderr, result.stderr
    assert not (home / "agent.json").exists()
