"""Process management shared by the benchmarks: start the agent and the baseline, stop them.

Both servers run as subprocesses in their own session (so a Ctrl-C in the terminal reaches
only the benchmark, which then stops them in order), log to files in a temporary directory,
and are waited for by polling, never by sleeping a fixed time. `ExitStack` callbacks stop
them on every exit path; `exit_on_signals` makes SIGINT, SIGTERM and SIGHUP raise, so those
callbacks run then too.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
READY_TIMEOUT_S = 60.0


@dataclass
class Row:
    """One line of a ratio table: a figure measured against a baseline from the same run."""

    name: str
    measured: float
    baseline: float
    unit: str
    goal: str = "-"
    met: bool | None = None

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else math.nan


class BenchError(Exception):
    """A server could not be started; the message holds the tail of its log."""


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    token: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def exit_on_signals() -> None:
    """SIGTERM/SIGHUP raise SystemExit and SIGINT raises KeyboardInterrupt, even when the
    shell started us with SIGINT ignored (a background job), so cleanup always runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENFABRIC_")}
    env.update({"PYTHONUNBUFFERED": "1", **extra})
    return env


def _spawn(
    stack: ExitStack, cmd: list[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(stop, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s; safe to call on a process that already exited."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def http_get(host: str, path: str, token: str = "", timeout: float = 5.0) -> tuple[int, bytes]:
    """One GET with the standard library (any status is an answer); raises OSError if none."""
    address, _, port = host.rpartition(":")
    conn = http.client.HTTPConnection(address, int(port), timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait(
    process: subprocess.Popen[bytes], log_path: Path, what: str, ready: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise BenchError(f"{what} exited with code {process.returncode}:\n{tail}")
        try:
            if ready():
                return
        except (OSError, ValueError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise BenchError(f"{what} did not become ready in {READY_TIMEOUT_S:.0f}s:\n{tail}")
        time.sleep(0.05)


def start_agent(stack: ExitStack, workdir: Path, *args: str) -> Server:
    """`python -m agent --port 0 --peer-port 0` with default settings and its own home;
    returns once it answers /api/health (with any status)."""
    home = workdir / "agent-home"
    home.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "agent.log"
    cmd = [sys.executable, "-m", "agent", "--port", "0", "--peer-port", "0", *args]
    process = _spawn(stack, cmd, _env({"OPENFABRIC_HOME": str(home)}), log_path)
    info = home / "agent.json"
    port = 0

    def ready() -> bool:
        nonlocal port
        if not info.exists():
            return False
        data = json.loads(info.read_text(encoding="utf-8"))
        if data.get("pid") != process.pid:
            return False
        port = int(data["port"])
        http_get(f"127.0.0.1:{port}", "/api/health")
        return True

    _wait(process, log_path, "the agent", ready)
    token = (home / "local.token").read_text(encoding="ascii").strip()
    return Server("agent", process, port, token, log_path)


def start_baseline(stack: ExitStack, workdir: Path) -> Server:
    """`benchmarks/baseline_server.py` on a free port; returns once it answers."""
    port_file = workdir / "baseline.port"
    log_path = workdir / "baseline.log"
    cmd = [sys.executable, str(BENCH / "baseline_server.py"), "--port-file", str(port_file)]
    process = _spawn(stack, cmd, _env({}), log_path)
    port = 0

    def ready() -> bool:
        nonlocal port
        if not port_file.exists():
            return False
        port = int(port_file.read_text(encoding="ascii"))
        return http_get(f"127.0.0.1:{port}", "/api/status")[0] == 200

    _wait(process, log_path, "the baseline server", ready)
    return Server("baseline", process, port, "", log_path)


def tree_cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process, its live children and its reaped children."""
    own = proc.cpu_times()
    total = own.children_user + own.children_system
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def system_busy_seconds() -> float:
    """CPU seconds all cores have spent busy (anything but idle and iowait) since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def tree_rss_bytes(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def write_json(path: Path | None, data: object) -> None:
    if path is not None:
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {path}")


def run_main(main: Callable[[], int], stopped: str = "every server") -> None:
    """Exit with main()'s status; Ctrl-C exits 130 (cleanup already ran in main's stacks)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"\ninterrupted; {stopped} was stopped", file=sys.stderr)
        sys.exit(130)
