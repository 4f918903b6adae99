"""The two HTTP/1.1 keep-alive load generators of `api_load.py`: wrk, and raw asyncio.

Both keep `concurrency` connections open, each with one request in flight (no pipelining),
send the same request (`Host: 127.0.0.1:<port>`, `Authorization: Bearer <token>`), and
report the same `Cell`: responses per second, p50/p99 latency, errors, and the CPU used by
the server (its process tree, via psutil) and by the client over the measured window.

- `wrk_cell` runs `wrk -t1` with a Lua script that sets the header and prints the summary;
  a separate `wrk` run is the warm-up. wrk takes whole seconds only.
- `asyncio_cell` is one `asyncio.Protocol` per connection in this process: the request bytes
  are built once, responses are framed by Content-Length, latency is from the write to the
  last byte. Warm-up and measurement share the connections; throughput counts responses
  completed inside the window.
"""

from __future__ import annotations

import asyncio
import math
import re
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from common import Server, system_busy_seconds, tree_cpu_seconds

_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_NEVER = 2**63
_WRK_LUA = """
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Accept"] = "*/*"
wrk.headers["User-Agent"] = "openfabric-bench"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout, summary.bytes))
end
"""


@dataclass
class Cell:
    target: str
    path: str
    concurrency: int
    client: str
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_pct: float
    client_cpu_pct: float
    other_cpu_pct: float
    response_bytes: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _request_token(server: Server) -> str:
    # The baseline ignores the header but gets one of the same size, so requests match.
    return server.token or "x" * 43


def _client_cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def wrk_cell(server: Server, path: str, concurrency: int, warmup: float, duration: float) -> Cell:
    wrk = wrk_path()
    assert wrk is not None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(_WRK_LUA.format(token=_request_token(server)))
        script = Path(handle.name)
    try:

        def run(seconds: float) -> str:
            cmd = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s"]
            cmd += ["--timeout", "10s", "-s", str(script), server.url + path]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
            if done.returncode != 0:
                raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
            return done.stdout

        if warmup > 0:
            run(warmup)
        proc = psutil.Process(server.pid)
        cpu0, client0 = tree_cpu_seconds(proc), _client_cpu(resource.RUSAGE_CHILDREN)
        busy0, t0 = system_busy_seconds(), time.perf_counter()
        out = run(duration)
        busy1, wall = system_busy_seconds(), time.perf_counter() - t0
        cpu1, client1 = tree_cpu_seconds(proc), _client_cpu(resource.RUSAGE_CHILDREN)
    finally:
        script.unlink(missing_ok=True)
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests, micros, p50, p99, status_errors, io_errors, size = map(int, match.groups())
    seconds = micros / 1e6
    return Cell(
        target=server.name,
        path=path,
        concurrency=concurrency,
        client="wrk",
        seconds=round(seconds, 3),
        requests=requests,
        errors=status_errors + io_errors,
        rps=round(requests / seconds, 1),
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        server_cpu_pct=round(100 * (cpu1 - cpu0) / wall, 1),
        client_cpu_pct=round(100 * (client1 - client0) / wall, 1),
        other_cpu_pct=max(
            0.0, round(100 * (busy1 - busy0 - cpu1 + cpu0 - client1 + client0) / wall, 1)
        ),
        response_bytes=size // max(1, requests),
    )


class _Window:
    """What every connection of one cell shares: the measurement window and its results."""

    def __init__(self) -> None:
        self.start_ns = _NEVER
        self.end_ns = _NEVER
        self.latencies: list[int] = []
        self.errors = 0
        self.response_bytes = 0


class _Connection(asyncio.Protocol):
    """One keep-alive connection issuing `request` back to back until the window ends."""

    def __init__(self, request: bytes, window: _Window, done: asyncio.Future[None]) -> None:
        self.request = request
        self.window = window
        self.done = done
        self.buffer = bytearray()
        self.need = -1
        self.sent_ns = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_ns = time.perf_counter_ns()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            match = _LENGTH.search(buffer, 0, end + 2)
            if match is None:
                self._finish(error=True)
                return
            self.need = end + 4 + int(match.group(1))
        if len(buffer) < self.need:
            return
        now = time.perf_counter_ns()
        window = self.window
        if window.start_ns <= now <= window.end_ns:
            window.latencies.append(now - self.sent_ns)
            if buffer[9:12] != b"200":
                window.errors += 1
        window.response_bytes = self.need
        del buffer[: self.need]
        self.need = -1
        if now >= window.end_ns:
            self._finish(error=False)
        else:
            self._send()

    def _finish(self, error: bool) -> None:
        self.window.errors += error
        if not self.done.done():
            self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.window.errors += 1
            self.done.set_result(None)


def _percentile(ordered: list[int], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] / 1e6


async def asyncio_cell(
    server: Server, path: str, concurrency: int, warmup: float, duration: float
) -> Cell:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {server.host}\r\n"
        f"Authorization: Bearer {_request_token(server)}\r\n"
        "Accept: */*\r\nUser-Agent: openfabric-bench\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    window = _Window()
    done = [loop.create_future() for _ in range(concurrency)]
    for future in done:
        await loop.create_connection(
            lambda f=future: _Connection(request, window, f), "127.0.0.1", server.port
        )
    proc = psutil.Process(server.pid)
    await asyncio.sleep(warmup)
    cpu0, client0 = tree_cpu_seconds(proc), _client_cpu(resource.RUSAGE_SELF)
    busy0, window.start_ns = system_busy_seconds(), time.perf_counter_ns()
    await asyncio.sleep(duration)
    busy1, window.end_ns = system_busy_seconds(), time.perf_counter_ns()
    cpu1, client1 = tree_cpu_seconds(proc), _client_cpu(resource.RUSAGE_SELF)
    await asyncio.wait_for(asyncio.gather(*done), timeout=30)
    seconds = (window.end_ns - window.start_ns) / 1e9
    ordered = sorted(window.latencies)
    return Cell(
        target=server.name,
        path=path,
        concurrency=concurrency,
        client="asyncio",
        seconds=round(seconds, 3),
        requests=len(ordered),
        errors=window.errors,
        rps=round(len(ordered) / seconds, 1),
        p50_ms=round(_percentile(ordered, 0.50), 3),
        p99_ms=round(_percentile(ordered, 0.99), 3),
        server_cpu_pct=round(100 * (cpu1 - cpu0) / seconds, 1),
        client_cpu_pct=round(100 * (client1 - client0) / seconds, 1),
        other_cpu_pct=max(
            0.0, round(100 * (busy1 - busy0 - cpu1 + cpu0 - client1 + client0) / seconds, 1)
        ),
        response_bytes=window.response_bytes,
    )


def run_cell(
    client: str, server: Server, path: str, concurrency: int, warmup: float, duration: float
) -> Cell:
    if client == "wrk":
        return wrk_cell(server, path, concurrency, warmup, duration)
    return asyncio.run(asyncio_cell(server, path, concurrency, warmup, duration))
