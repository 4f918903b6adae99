#!/usr/bin/env python3
"""Idle cost: CPU and memory of an agent that nobody talks to, against a bare uvicorn.

One run starts the real agent (`python -m agent --port 0 --peer-port 0`, every other setting
at its default: telemetry every 1 s, discovery, database, ...) and, as the baseline,
`baseline_server.py` (bare Starlette + uvicorn, served with the agent's uvicorn settings),
each in its own subprocess. Once the agent answers `/api/health` and a warm-up has passed,
nothing more is sent to either; psutil samples both process trees (the process and any
children) every second for `--seconds` (60 by default):

- CPU: user + system CPU seconds used in the window / wall seconds, as % of one core; the
  busiest one-second interval is shown too.
- RSS: resident set size, mean and peak over the samples.

Goals for the agent: <= 1 % of one core, and <= 80 MB RSS (peak). The excess over the
baseline is what the agent adds on top of the Python + uvicorn + Starlette floor.

    .venv/bin/python benchmarks/idle.py [--seconds N] [--warmup S] [--json FILE]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    BenchError,
    Server,
    exit_on_signals,
    run_main,
    start_agent,
    start_baseline,
    tree_cpu_seconds,
    tree_rss_bytes,
    write_json,
)

GOAL_CPU_PCT = 1.0
GOAL_RSS_MB = 80.0
MB = 1024 * 1024


@dataclass
class Usage:
    name: str
    pid: int
    cpu_pct: float = 0.0
    peak_interval_cpu_pct: float = 0.0
    rss_mean_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_samples_mb: list[float] = field(default_factory=list)


def sample(servers: list[Server], seconds: float, interval: float) -> list[Usage]:
    procs = [psutil.Process(s.pid) for s in servers]
    usages = [Usage(s.name, s.pid) for s in servers]
    start_cpu = [tree_cpu_seconds(p) for p in procs]
    last_cpu = list(start_cpu)
    start = last = time.monotonic()
    count = max(1, math.ceil(seconds / interval))
    for n in range(1, count + 1):
        time.sleep(max(0.0, start + n * interval - time.monotonic()))
        now = time.monotonic()
        for i, (proc, usage) in enumerate(zip(procs, usages, strict=True)):
            if not proc.is_running():
                raise BenchError(f"{usage.name} (pid {usage.pid}) exited during the sampling")
            cpu = tree_cpu_seconds(proc)
            busy = 100 * (cpu - last_cpu[i]) / (now - last)
            usage.peak_interval_cpu_pct = max(usage.peak_interval_cpu_pct, round(busy, 2))
            usage.rss_samples_mb.append(round(tree_rss_bytes(proc) / MB, 2))
            last_cpu[i] = cpu
        last = now
        if n % 10 == 0 or n == count:
            print(f"  {n * interval:4.0f} s / {seconds:g} s", flush=True)
    wall = last - start
    for i, usage in enumerate(usages):
        usage.cpu_pct = round(100 * (last_cpu[i] - start_cpu[i]) / wall, 3)
        usage.rss_mean_mb = round(sum(usage.rss_samples_mb) / len(usage.rss_samples_mb), 1)
        usage.rss_peak_mb = max(usage.rss_samples_mb)
    return usages


def report(agent: Usage, baseline: Usage, seconds: float) -> dict[str, object]:
    head = (
        f"{'process':10} {'pid':>7} {'CPU % (1 core)':>14} {'peak 1 s CPU %':>14} "
        f"{'RSS MB mean':>11} {'RSS MB peak':>11}"
    )
    print(f"\nidle for {seconds:g} s, sampled every second\n")
    print(head)
    print("-" * len(head))
    for u in (agent, baseline):
        print(
            f"{u.name:10} {u.pid:>7} {u.cpu_pct:>14.2f} {u.peak_interval_cpu_pct:>14.2f} "
            f"{u.rss_mean_mb:>11.1f} {u.rss_peak_mb:>11.1f}"
        )
    excess_cpu = agent.cpu_pct - baseline.cpu_pct
    excess_rss = agent.rss_peak_mb - baseline.rss_peak_mb
    print(
        f"{'excess':10} {'':>7} {excess_cpu:>+14.2f} {'':>14} "
        f"{agent.rss_mean_mb - baseline.rss_mean_mb:>+11.1f} {excess_rss:>+11.1f}"
    )
    cpu_ok = agent.cpu_pct <= GOAL_CPU_PCT
    rss_ok = agent.rss_peak_mb <= GOAL_RSS_MB
    print()
    print(
        f"goal agent CPU <= {GOAL_CPU_PCT:g} % of one core: {'met' if cpu_ok else 'NOT met'} "
        f"({agent.cpu_pct:.2f} %)"
    )
    print(
        f"goal agent RSS <= {GOAL_RSS_MB:g} MB:           {'met' if rss_ok else 'NOT met'} "
        f"(peak {agent.rss_peak_mb:.1f} MB)"
    )
    return {
        "seconds": seconds,
        "agent": asdict(agent),
        "baseline": asdict(baseline),
        "excess_cpu_pct": round(excess_cpu, 3),
        "excess_rss_peak_mb": round(excess_rss, 1),
        "cpu_goal_met": cpu_ok,
        "rss_goal_met": rss_ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="sampling window (60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after ready (5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    exit_on_signals()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="of-idle-")))
        try:
            print("starting the agent and the baseline ...", flush=True)
            agent = start_agent(stack, workdir)
            baseline = start_baseline(stack, workdir)
            print(
                f"agent pid {agent.pid}, baseline pid {baseline.pid}; warm-up {args.warmup:g} s",
                flush=True,
            )
            time.sleep(args.warmup)
            usages = sample([agent, baseline], args.seconds, 1.0)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    result = report(usages[0], usages[1], args.seconds)
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    run_main(main)
