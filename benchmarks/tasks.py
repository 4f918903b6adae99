#!/usr/bin/env python3
"""Tasks: submit -> process start latency, throughput, and Dask, side by side in one run.

Two loopback agents (default settings, mDNS off) joined into one cluster; every task is the
shell command `true`, submitted to agent A by one keep-alive httpx client, its end observed on
A's SSE stream. README.md has the definitions; in short:

1. Latency (100 sequential tasks; --quick 30): `started_at` (the agent's `time.time()` right
   after its spawn call returned) minus `time.time()` just before the POST, on A and (via
   `preferred_node`) on B, against `subprocess.Popen(["/bin/sh", "-c", "true"])` timed from
   just before Popen() to its return. Goal: local p50 <= 2 x raw p50.
2. Throughput: 500 tasks (--quick 200) on A, 32 POSTs in flight, first POST to last end
   event. Goal: >= 100 tasks/s per agent.
3. Dask `LocalCluster(n_workers=1, threads_per_worker=<cores>, processes=True)`, the same
   commands via `Client.map` + `gather`. Goal: OpenFabric's wall time per task below Dask's.
   Needs `.venv/bin/pip install distributed` (not a project dependency); skipped without it.

    .venv/bin/python benchmarks/tasks.py [--quick] [--json FILE] [--profile FILE]

--profile FILE: 4 more, unrecorded throughput rounds on A under `py-spy record --rate 250
--format raw -o FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from subprocess import DEVNULL, PIPE, Popen
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import LOOPBACK, api, form_cluster
from common import (
    BenchError,
    Server,
    exit_on_signals,
    run_main,
    start_agent,
    stop,
    system_busy_seconds,
    write_json,
)

COMMAND = "true"
ARGV = ["/bin/sh", "-c", COMMAND]
WARMUP = 5
INFLIGHT = 32
PROFILE_ROUNDS = 4
GOAL_RATIO, GOAL_RATE = 2.0, 100.0
END_TOPICS = ("task.succeeded", "task.failed", "task.cancelled", "task.timed_out", "task.lost")
WAIT_S = 300.0


def pct_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 3)


def summary(samples: list[float], parts: dict[str, list[float]]) -> dict[str, Any]:
    out = {"n": len(samples), "p50_ms": pct_ms(samples, 0.5), "p99_ms": pct_ms(samples, 0.99)}
    return out | ({"parts_p50_ms": {k: pct_ms(v, 0.5) for k, v in parts.items()}} if parts else {})


def raw_spawn(n: int) -> list[float]:
    """Seconds from just before Popen() to its return (once exec has succeeded), with the
    agent's options: pipes, a new session."""
    out = []
    for _ in range(WARMUP + n):
        t0 = time.time()
        child = Popen(ARGV, stdin=DEVNULL, stdout=PIPE, stderr=PIPE, start_new_session=True)
        out.append(time.time() - t0)
        child.communicate()
    return out[WARMUP:]


class Tasks:
    """Submits tasks to one agent and collects their end events from its SSE stream."""

    def __init__(self, server: Server) -> None:
        auth = {"Authorization": f"Bearer {server.token}"}
        limits = httpx.Limits(max_connections=INFLIGHT + 4, max_keepalive_connections=INFLIGHT + 4)
        self.client = httpx.AsyncClient(
            base_url=server.url, headers=auth, limits=limits, timeout=60
        )
        self.ends: dict[str, asyncio.Future[dict[str, Any]]] = {}  # by task id

    async def __aenter__(self) -> Tasks:
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self._read(opened))
        # Subscribed before the first submission; a failed subscription raises here.
        await asyncio.wait((opened, self.reader), timeout=10, return_when="FIRST_COMPLETED")
        if self.reader.done():
            self.reader.result()
        if not opened.done():
            self.reader.cancel()
            raise BenchError("the agent's event stream did not open within 10 s")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.reader.cancel()
        await self.client.aclose()

    def end(self, task_id: str) -> asyncio.Future[dict[str, Any]]:
        return self.ends.setdefault(task_id, asyncio.get_running_loop().create_future())

    async def _read(self, opened: asyncio.Future[None]) -> None:
        params = {"topics": ",".join(END_TOPICS)}
        try:
            async with self.client.stream("GET", "/api/events", params=params, timeout=None) as r:
                r.raise_for_status()
                opened.set_result(None)
                async for line in r.aiter_lines():
                    view = json.loads(line[5:]) if line.startswith("data:") else {}
                    if "task_id" in view and not (end := self.end(view["task_id"])).done():
                        end.set_result(view)
        finally:  # the stream is gone: fail every wait now rather than after WAIT_S
            for end in self.ends.values():
                if not end.done():
                    end.set_exception(BenchError("the agent's event stream ended"))

    async def submit(self, node: str) -> str:
        body = {"command": COMMAND, "preferred_node": node}
        response = await self.client.post("/api/tasks", json=body)
        if response.status_code != 201:
            raise BenchError(f"POST /api/tasks: {response.status_code} {response.text[:500]}")
        return str(response.json()["task_id"])

    async def wait_all(self, ids: list[str]) -> list[dict[str, Any]]:
        try:
            views = await asyncio.wait_for(asyncio.gather(*(self.end(t) for t in ids)), WAIT_S)
        except TimeoutError:
            missing = [t for t in ids if not self.end(t).done()]
            detail = (await self.client.get(f"/api/tasks/{missing[0]}")).text[:500]
            raise BenchError(f"{len(missing)} tasks never ended; e.g. {detail}") from None
        if bad := [v for v in views if v["state"] != "succeeded"]:
            raise BenchError(f"{len(bad)} tasks did not succeed; e.g. {json.dumps(bad[0])[:500]}")
        return views


async def latency(tasks: Tasks, node: str, n: int) -> dict[str, Any]:
    samples, parts = [], {"http": [], "sched": [], "spawn": []}
    for i in range(WARMUP + n):
        t0 = time.time()
        [view] = await tasks.wait_all([await tasks.submit(node)])
        if i >= WARMUP:
            samples.append(view["started_at"] - t0)
            parts["http"].append(view["submitted_at"] - t0)
            parts["sched"].append(view["scheduled_at"] - view["submitted_at"])
            parts["spawn"].append(view["started_at"] - view["scheduled_at"])
    return summary(samples, parts)


def cpu(proc: psutil.Process | None) -> float:
    """User + system seconds of the process's threads (not of its children)."""
    return sum(proc.cpu_times()[:2]) if proc else 0.0


def meter(agent: psutil.Process | None = None) -> tuple[float, ...]:
    return time.perf_counter(), system_busy_seconds(), cpu(agent), cpu(psutil.Process())


def row(n: int, start: tuple[float, ...], agent: psutil.Process | None = None) -> Any:
    wall, busy = time.perf_counter() - start[0], system_busy_seconds() - start[1]
    return {
        "tasks": n,
        "wall_s": round(wall, 3),
        "tasks_per_s": round(n / wall, 1),
        "ms_per_task": round(wall / n * 1000, 3),
        "machine_cpu_ms_per_task": round(busy / n * 1000, 3),
        "agent_cpu_pct": round(100 * (cpu(agent) - start[2]) / wall) if agent else None,
        "bench_cpu_pct": round(100 * (cpu(psutil.Process()) - start[3]) / wall),
    }


async def burst(tasks: Tasks, node: str, n: int) -> None:
    gate = asyncio.Semaphore(INFLIGHT)

    async def one() -> str:
        async with gate:
            return await tasks.submit(node)

    await tasks.wait_all(list(await asyncio.gather(*(one() for _ in range(n)))))


def py_spy(pid: int, out: Path) -> Popen[bytes]:
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        raise BenchError(f"--profile needs {exe} (.venv/bin/pip install py-spy)")
    argv = [str(exe), "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "-o"]
    return Popen([*argv, str(out)], stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)


async def run_openfabric(
    a: Server, nodes: tuple[str, ...], n_lat: int, n_tput: int, profile: Path | None
) -> dict[str, Any]:
    async with Tasks(a) as tasks:
        local, remote = [await latency(tasks, node, n_lat) for node in nodes]
        print("  latency measured; throughput round ...", flush=True)
        await burst(tasks, nodes[0], 50)  # warm-up
        agent = psutil.Process(a.pid)
        start = meter(agent)
        await burst(tasks, nodes[0], n_tput)
        throughput = row(n_tput, start, agent)
        if profile is not None:
            spy = py_spy(a.pid, profile)
            try:
                await asyncio.sleep(1)  # py-spy attaches
                for _ in range(PROFILE_ROUNDS):
                    await burst(tasks, nodes[0], n_tput)
            finally:
                spy.send_signal(signal.SIGINT)
                await asyncio.to_thread(spy.wait, 30)
            print(f"  py-spy exited with {spy.returncode}; raw samples of A in {profile}")
    return {"local": local, "remote": remote, "throughput": throughput}


def sh_true(_: int) -> int:
    return subprocess.run(ARGV).returncode


def run_dask(stack: ExitStack, n: int) -> dict[str, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return {"skipped": "distributed not installed (.venv/bin/pip install distributed)"}
    options = {"dashboard_address": None, "silence_logs": logging.ERROR}
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # Dask's noise on Ctrl-C
    cores = os.cpu_count() or 1
    cluster = stack.enter_context(
        LocalCluster(n_workers=1, threads_per_worker=cores, processes=True, **options)
    )
    client = stack.enter_context(Client(cluster))
    client.gather(client.map(sh_true, range(50), pure=False))  # warm-up
    start = meter()
    codes = client.gather(client.map(sh_true, range(n), pure=False))
    result = row(n, start)
    if any(codes):
        raise BenchError(f"{sum(1 for c in codes if c)} Dask tasks exited non-zero")
    return result


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def report(r: dict[str, Any]) -> None:
    raw, of, dask, tput = r["raw_spawn"], r["openfabric"], r["dask"], r["openfabric"]["throughput"]
    print(f"\nsubmit -> process start ({COMMAND!r}, one task at a time; p50 parts in ms:")
    print("http = POST until submitted_at, sched = until scheduled_at, spawn = until started_at)")
    head = f"{'path':20} {'n':>4} {'p50 ms':>7} {'p99 ms':>7} {'x raw p50':>9} {'x raw p99':>9}"
    print(f"{head} {'http':>6} {'sched':>6} {'spawn':>6}\n" + "-" * (len(head) + 21))
    print(f"{'raw Popen (baseline)':20} {raw['n']:>4} {raw['p50_ms']:>7.3f} {raw['p99_ms']:>7.3f}")
    for name in ("local", "remote"):
        x = of[name]
        cells = [f"{'openfabric ' + name:20}", f"{x['n']:>4}", f"{x['p50_ms']:>7.3f}"]
        cells += [f"{x['p99_ms']:>7.3f}", f"{x['ratio_p50']:>9.2f}", f"{x['ratio_p99']:>9.2f}"]
        print(" ".join(cells + [f"{v:>6.3f}" for v in x["parts_p50_ms"].values()]))
    print(f"goal: local p50 <= {GOAL_RATIO:g} x raw p50: {yes(r['latency_goal_met'])}")
    print(f"\nthroughput ({COMMAND!r} x {tput['tasks']}, {INFLIGHT} POSTs in flight; cpu ms = busy")
    print("CPU of both cores per task; agent/bench cpu = % of one core; bench = this process)")
    head = f"{'runner':20} {'wall s':>7} {'tasks/s':>8} {'ms/task':>8} {'cpu ms':>7}"
    print(f"{head} {'agent cpu':>9} {'bench cpu':>9}\n" + "-" * (len(head) + 20))
    for name, x in (("openfabric (agent A)", tput), ("dask LocalCluster", dask)):
        if "skipped" in x:
            print(f"{name:20} skipped: {x['skipped']}")
            continue
        agent = "-" if x["agent_cpu_pct"] is None else f"{x['agent_cpu_pct']}%"
        cells = [f"{name:20}", f"{x['wall_s']:>7.2f}", f"{x['tasks_per_s']:>8.1f}"]
        cells += [f"{x['ms_per_task']:>8.3f}", f"{x['machine_cpu_ms_per_task']:>7.2f}"]
        print(" ".join([*cells, f"{agent:>9}", f"{x['bench_cpu_pct']:>8}%"]))
    print(f"goal: >= {GOAL_RATE:g} tasks/s per agent: {yes(tput['tasks_per_s'] >= GOAL_RATE)}")
    if "skipped" not in dask:
        rel = r["overhead_vs_dask"]
        print(f"goal: openfabric per-task overhead < Dask's: {rel:.2f} x Dask's: {yes(rel < 1)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 latency samples, 200 tasks")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    parser.add_argument("--profile", type=Path, metavar="FILE", help="py-spy raw profile of A")
    args = parser.parse_args()
    n_lat, n_tput = (30, 200) if args.quick else (100, 500)
    exit_on_signals()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="of-bench-")))
        try:
            print("starting two agents and joining them ...", flush=True)
            a = start_agent(stack, workdir / "a", *LOOPBACK)
            b = start_agent(stack, workdir / "b", *LOOPBACK)
            form_cluster([a, b])
            nodes = tuple(api(s, "GET", "/api/status")["node_id"] for s in (a, b))
            print(f"agent A pid {a.pid}, agent B pid {b.pid}; raw spawn baseline ...", flush=True)
            raw = summary(raw_spawn(n_lat), {})
            of = asyncio.run(run_openfabric(a, nodes, n_lat, n_tput, args.profile))
            stop(a.process)  # a quiet machine for Dask
            stop(b.process)
            print("dask ...", flush=True)
            dask = run_dask(stack, n_tput)
        except (BenchError, httpx.HTTPError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for name in ("local", "remote"):
        of[name]["ratio_p50"] = round(of[name]["p50_ms"] / raw["p50_ms"], 2)
        of[name]["ratio_p99"] = round(of[name]["p99_ms"] / raw["p99_ms"], 2)
    result: dict[str, Any] = {"raw_spawn": raw, "openfabric": of, "dask": dask}
    result["latency_goal_met"] = of["local"]["ratio_p50"] <= GOAL_RATIO
    result["throughput_goal_met"] = of["throughput"]["tasks_per_s"] >= GOAL_RATE
    if "skipped" not in dask:
        result["overhead_vs_dask"] = round(of["throughput"]["ms_per_task"] / dask["ms_per_task"], 2)
    result["meta"] = {"command": COMMAND, "cpu_count": os.cpu_count(), "inflight": INFLIGHT}
    report(result)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    run_main(main, "every agent and Dask")
