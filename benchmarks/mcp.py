#!/usr/bin/env python3
"""MCP tool calls: what the agent adds to one call of a stdio server's tool, locally and over
one peer hop, against the SDK's own client calling the same server directly, in the same run.

The server is the test server `tests/fakes/mcp_servers/server.py` over stdio (its `add` tool),
run with this interpreter. Two loopback agents (default settings, mDNS off) are joined; the
server is configured on B. Three ways to call `add`, one call at a time, the ways taking
turns so drift hits them alike, after warm-ups that start the servers:

1. direct      `mcp.Client(StdioServerParameters(...))` on its own server process, kept open
2. local API   `POST /api/mcp/servers/bench/test {"tool": "add", ...}` on B, one keep-alive
               HTTP connection
3. peer hop    `POST /peer/mcp/call` on B's peer listener as member A sends it: signed with
               A's node key (signing is in the timed part: A pays it), B's certificate
               pinned, one keep-alive HTTPS connection

Each figure is client-side wall time (request written to answer read and checked); the
agent's own time inside the call (`timings.call_ms`, `duration_ms` on the peer channel) is
reported beside it. Goal: local p50 <= direct p50 + 2 ms. 2,000 calls per way (--quick: 200).

    .venv/bin/python benchmarks/mcp.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

# This file is named like the SDK, and a script's own folder comes first on sys.path: the
# SDK is imported with the folder off the path, the sibling modules with it last.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(BENCH.parent), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]
from mcp import Client, StdioServerParameters

sys.path.append(str(BENCH))
import common
from cluster import LOOPBACK, form_cluster
from common import BenchError, Row, Server, exit_on_signals, run_main, start_agent

from agent.peer.identity import Identity, load_or_create_identity
from agent.peer.signing import sign_headers
from agent.peer.tls import pinned_context

SCRIPT = BENCH.parent / "tests" / "fakes" / "mcp_servers" / "server.py"
SERVER = "bench"
TEST_PATH = f"/api/mcp/servers/{SERVER}/test"
PEER_CALL = "/peer/mcp/call"
WARMUP = 20
GOAL_ADDED_MS = 2.0
NOISY_PCT = 15.0  # CPU % of one core used by anything else that makes a run noisy
MS = 1000.0


NAN = (math.nan, math.nan)


class Way:
    """One way to call `add`: `call(a, b)` answers the agent's own times in ms, NaN where
    it gives none: the call (`call_ms`, `duration_ms`), and the whole handler (`total_ms`)."""

    def __init__(self, name: str, call: Callable[[int, int], Any]) -> None:
        self.name, self.call = name, call
        self.wall_ms: list[float] = []
        self.call_ms: list[float] = []
        self.handler_ms: list[float] = []

    async def once(self, a: int, record: bool) -> None:
        began = time.perf_counter()
        inner = self.call(a, 7)
        if asyncio.iscoroutine(inner):
            inner = await inner
        wall = (time.perf_counter() - began) * MS
        if record:
            self.wall_ms.append(wall)
            self.call_ms.append(inner[0])
            self.handler_ms.append(inner[1])


def check(way: str, text: object, is_error: object, expected: int) -> None:
    if is_error or text != str(expected):
        raise BenchError(f"{way}: expected {expected}, got {text!r} (is_error={is_error})")


def answer_of(conn: http.client.HTTPConnection, what: str) -> Any:
    response = conn.getresponse()
    raw = response.read()
    if response.status != 200:
        raise BenchError(f"{what}: HTTP {response.status} {raw[:300]!r}")
    return json.loads(raw)


def request(server: Server, method: str, path: str, body: Any) -> Any:
    """One call on a fresh connection (setup only); 200 and 201 are answers."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        if response.status not in (200, 201):
            raise BenchError(f"{method} {path}: HTTP {response.status} {raw[:300]!r}")
        return json.loads(raw)
    finally:
        conn.close()


def local_way(b: Server, stack: ExitStack) -> Way:
    conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=60)
    stack.callback(conn.close)
    headers = {"Authorization": f"Bearer {b.token}", "Content-Type": "application/json"}

    def call(a: int, b_: int) -> tuple[float, float]:
        body = json.dumps({"tool": "add", "arguments": {"a": a, "b": b_}}).encode()
        conn.request("POST", TEST_PATH, body=body, headers=headers)
        answer = answer_of(conn, "local API")
        check("local API", answer["result"]["text"], answer["result"]["is_error"], a + b_)
        timings = answer["timings"]
        return float(timings["call_ms"]), float(timings["total_ms"])

    return Way("local API (B)", call)


def peer_way(sender: Identity, b_home: Path, stack: ExitStack) -> Way:
    info = json.loads((b_home / "agent.json").read_text(encoding="utf-8"))
    receiver = info["node_id"]
    context = pinned_context((b_home / "identity" / "tls.crt").read_text(encoding="ascii"))
    conn = http.client.HTTPSConnection(
        "127.0.0.1", int(info["peer_port"]), timeout=60, context=context
    )
    stack.callback(conn.close)

    def call(a: int, b_: int) -> tuple[float, float]:
        body = json.dumps({"server": SERVER, "tool": "add", "arguments": {"a": a, "b": b_}})
        raw = body.encode()
        digest = hashlib.sha256(raw).hexdigest()
        headers = sign_headers(
            sender.sign, sender.node_id, "POST", PEER_CALL, digest, receiver=receiver
        )
        conn.request(
            "POST", PEER_CALL, body=raw, headers={**headers, "content-type": "application/json"}
        )
        answer = answer_of(conn, "peer hop")
        check("peer hop", answer["text"], answer["is_error"], a + b_)
        return float(answer["duration_ms"]), math.nan

    return Way("peer hop A -> B", call)


def direct_way(client: Client) -> Way:
    async def call(a: int, b_: int) -> tuple[float, float]:
        result = await client.call_tool("add", {"a": a, "b": b_})
        text = "".join(getattr(block, "text", "") for block in result.content)
        check("direct", text, result.is_error, a + b_)
        return NAN

    return Way("direct SDK client", call)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(way: Way) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(way.wall_ms)}
    for q, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        out[f"wall_{key}_ms"] = round(pct(way.wall_ms, q), 4)
    for key, values in (("call", way.call_ms), ("handler", way.handler_ms)):
        if not any(math.isnan(x) for x in values):
            out[f"{key}_p50_ms"] = round(pct(values, 0.5), 4)
            out[f"{key}_p99_ms"] = round(pct(values, 0.99), 4)
    return out


async def measure(ways: list[Way], calls: int) -> dict[str, Any]:
    for i in range(WARMUP):
        for way in ways:
            await way.once(i, record=False)
    me = psutil.Process()
    ours, busy = common.tree_cpu_seconds(me), common.system_busy_seconds()
    began = time.monotonic()
    for i in range(calls):  # the ways take turns, so drift on the machine hits them alike
        for way in ways:
            await way.once(i, record=True)
        if i + 1 in (calls // 2, calls):
            print(f"  {i + 1}/{calls} rounds", flush=True)
    wall = time.monotonic() - began
    used = common.tree_cpu_seconds(me) - ours
    # The two counters are read at slightly different moments: a quiet machine reads ~ -1 %.
    other = max(0.0, 100 * (common.system_busy_seconds() - busy - used) / wall)
    return {"seconds": round(wall, 2), "ours_cpu_pct": round(100 * used / wall, 1),
            "other_cpu_pct": round(other, 1)}  # fmt: skip


async def run(workdir: Path, calls: int) -> dict[str, Any]:
    with ExitStack() as stack:
        a = start_agent(stack, workdir / "a", *LOOPBACK)
        b = start_agent(stack, workdir / "b", *LOOPBACK)
        form_cluster([a, b])
        transport = {"type": "stdio", "command": sys.executable, "args": [str(SCRIPT)]}
        request(b, "POST", "/api/mcp/servers", {"name": SERVER, "transport": transport})
        started = request(b, "POST", TEST_PATH, {})  # lists the tools: starts the server
        print(f"  B's server started in {started['timings']['start_ms'] or 0:.0f} ms", flush=True)
        sender = load_or_create_identity(workdir / "a" / "agent-home")
        params = StdioServerParameters(command=sys.executable, args=[str(SCRIPT)])
        async with AsyncExitStack() as sdk:
            client = await sdk.enter_async_context(Client(params, cache=None))
            ways = [direct_way(client), local_way(b, stack),
                    peer_way(sender, workdir / "b" / "agent-home", stack)]  # fmt: skip
            print(f"measuring: {calls} calls per way, after {WARMUP} warm-ups ...", flush=True)
            machine = await measure(ways, calls)
    return {"ways": {w.name: summary(w) for w in ways}, "machine": machine}


def rows_of(result: dict[str, Any]) -> list[Row]:
    direct, local, peer = result["ways"].values()
    added = local["wall_p50_ms"] - direct["wall_p50_ms"]
    goal = f"+{GOAL_ADDED_MS:g} ms"
    return [
        Row("local API, p50", local["wall_p50_ms"], direct["wall_p50_ms"], "ms", goal,
            added <= GOAL_ADDED_MS),
        Row("local API, p99", local["wall_p99_ms"], direct["wall_p99_ms"], "ms"),
        Row("  inside B: the call (call_ms), p50", local["call_p50_ms"],
            direct["wall_p50_ms"], "ms"),
        Row("  inside B: the handler (total_ms), p50", local["handler_p50_ms"],
            direct["wall_p50_ms"], "ms"),
        Row("peer hop A -> B, p50", peer["wall_p50_ms"], direct["wall_p50_ms"], "ms"),
        Row("peer hop A -> B, p99", peer["wall_p99_ms"], direct["wall_p99_ms"], "ms"),
        Row("  inside B: the call (duration_ms), p50", peer["call_p50_ms"],
            direct["wall_p50_ms"], "ms"),
        Row("peer hop p50 vs local API p50", peer["wall_p50_ms"], local["wall_p50_ms"], "ms"),
    ]  # fmt: skip


def table(rows: list[Row]) -> str:
    head = (f"{'measurement':42} {'measured':>11} {'baseline':>11} {'added':>9} {'ratio':>6}"
            f"  {'goal':8} met")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in rows:
        met = "-" if r.met is None else "yes" if r.met else "NO"
        lines.append(
            f"{r.name:42} {r.measured:>8.3f} {r.unit} {r.baseline:>8.3f} {r.unit} "
            f"{r.measured - r.baseline:>+9.3f} {r.ratio:>6.2f}  {r.goal:8} {met}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 calls per way, not 2,000")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    calls = 200 if args.quick else 2000
    exit_on_signals()
    print("starting two agents, joining them, adding the server to B ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="of-mcp-") as folder:
        try:
            result = asyncio.run(run(Path(folder), calls))
        except (BenchError, OSError, http.client.HTTPException, KeyError) as exc:
            print(f"error: {exc!r}", file=sys.stderr)
            return 1
    rows = rows_of(result)
    machine = result["machine"]
    print(f"\none call of `add` at a time, {calls} per way, the ways taking turns; "
          "client-side wall time; baseline: the direct SDK client\n")  # fmt: skip
    print(table(rows))
    noisy = "  (noisy: repeat the run)" if machine["other_cpu_pct"] > NOISY_PCT else ""
    print(f"\nthis run used {machine['ours_cpu_pct']:g} % of a core (script, agents, servers); "
          f"everything else {machine['other_cpu_pct']:g} %{noisy}")  # fmt: skip
    result["rows"] = [asdict(r) | {"ratio": r.ratio} for r in rows]
    result["meta"] = {"calls": calls, "warmup": WARMUP, "goal_added_ms": GOAL_ADDED_MS,
                      "cpu_count": os.cpu_count()}  # fmt: skip
    common.write_json(args.json, result)
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    run_main(main, "every agent and MCP server")
