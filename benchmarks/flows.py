#!/usr/bin/env python3
"""Fabric Flow: event trigger latency, and the cost and punctuality of many cron flows.

Two agents (`python -m agent`, default settings, mDNS off, loopback) run side by side: A holds
the flows, B holds none and is the baseline for CPU and memory. Every time below is the wall
clock (`time.time()`) of this one machine, on the client or stamped by the agent.

1. Event trigger -> first step started (`flows_events.py`), 200 samples (--quick 30) after 5
   warm-ups, one at a time. A flow on A fires on `storage.uploaded`; its first step is `wait
   1ms`. Each sample uploads a 5-byte file to A. The event stream (`GET /api/events`) carries no
   publish time, so both figures start at the upload's `modified` stamp (the version saved,
   just before the agent publishes `storage.uploaded`):
   - baseline: until the stream delivers that `storage.uploaded` event to this client (the
     event's own delivery: the upload's last writes, the publish, the SSE stream);
   - measured: until the stream delivers the run's first `flow.step.changed` `running` event.
   The goal (p50 < 20 ms) is on their difference per sample: from the trigger event as the
   stream delivers it to the step's start as the same stream delivers it, i.e. what flows add
   between the publish of the trigger event and the publish of the step's start. The JSON
   splits it with the agent's own stamps (run trigger `at`, `created_at`, run and step
   `started_at`).
2. Creating flows: N (1,000; --quick 100) daily cron flows POSTed to A, 8 requests in flight;
   flows created per second over all of them.
3. Firing delay: 30 of those N (--quick 10) are daily crons due at the same whole minute, 10
   per minute over 3 minutes (--quick 1), so each minute fires a burst of 10 at once; the rest
   are spread evenly over the day, none in the next 40 minutes. Created last, once the time
   is known, due from the first whole minute at least 15 s later. Measured per run: the
   scheduled time -> the run's `started_at` (and the first step's). Baseline in the same run:
   how late this benchmark's own asyncio loop wakes from a sleep until the same minute.
   Goal: p99 < 1 s. Only 30 samples: p99 is their maximum.
4. Idle CPU with N armed cron flows: once every run of step 3 has ended and after 5 s of
   settling, both agents are left alone and psutil samples their process trees every second
   for 60 s (--quick 10; as idle.py): CPU % of one core, and RSS. Goal: A <= 1 % of one core;
   B (no flows) is the baseline. No flow is due in this window, so this is the cost of holding
   the flows armed; the CPU both used during step 3's window is in the JSON.

    .venv/bin/python benchmarks/flows.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flows_cron as cron
import flows_events as events
from cluster import LOOPBACK
from common import (
    BenchError,
    Server,
    exit_on_signals,
    run_main,
    start_agent,
    tree_cpu_seconds,
    write_json,
)
from flows_report import Figures, report
from idle import sample

SETTLE_S = 5.0


async def firing_and_create(a: Server, b: Server, count: int, minutes: int) -> dict[str, Any]:
    per_minute = 10
    async with cron.client_for(a) as client:
        spread = cron.spread_minutes(count - minutes * per_minute, time.time())
        texts = {
            f"bench-cron-{i:04d}": cron.flow_text(f"bench-cron-{i:04d}", m)
            for i, m in enumerate(spread)
        }
        print(f"creating {count} cron flows on A ...", flush=True)
        first = await cron.create(client, texts)
        plan = cron.plan_firing(minutes, per_minute, time.time() + cron.MARGIN_S)
        second = await cron.create(client, cron.firing_texts(plan))
        created = cron.Created(first.count + second.count, first.wall_s + second.wall_s)
        print(
            f"  {created.count} flows in {created.wall_s:.1f} s; firing from "
            f"{time.strftime('%H:%M:%S', time.localtime(min(plan.due.values())))} "
            f"to {time.strftime('%H:%M:%S', time.localtime(plan.last))}",
            flush=True,
        )
        busy = [psutil.Process(p) for p in (a.pid, b.pid)]
        cpu_start, wall_start = [tree_cpu_seconds(p) for p in busy], time.monotonic()
        lateness = asyncio.create_task(loop_lateness(sorted(set(plan.due.values()))))
        await cron.wait_runs(client, plan)
        window = time.monotonic() - wall_start
        cpu = [
            100 * (tree_cpu_seconds(p) - c) / window for p, c in zip(busy, cpu_start, strict=True)
        ]
        found = await cron.delays(client, plan)
        return {
            "created": asdict(created) | {"per_s": round(created.per_s, 1)},
            "delays": found,
            "loop_lateness_s": await lateness,
            "firing_window": {
                "wall_s": round(window, 1),
                "a_cpu_pct": round(cpu[0], 2),
                "b_cpu_pct": round(cpu[1], 2),
            },
        }


async def loop_lateness(due: list[float]) -> list[float]:
    late = []
    for at in due:
        await asyncio.sleep(max(0.0, at - time.time()))
        late.append(time.time() - at)
    return late


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    n_events, n_flows, minutes, idle_s = (30, 100, 1, 10.0) if args.quick else (200, 1000, 3, 60.0)
    exit_on_signals()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="of-flows-")))
        try:
            print("starting agents A (flows) and B (none) ...", flush=True)
            a = start_agent(stack, workdir / "a", *LOOPBACK)
            b = start_agent(stack, workdir / "b", *LOOPBACK)
            print(f"A pid {a.pid}, B pid {b.pid}; {n_events} events ...", flush=True)
            samples = asyncio.run(events.measure(a, n_events))
            crons = asyncio.run(firing_and_create(a, b, n_flows, minutes))
            time.sleep(SETTLE_S)
            print(f"idle window {idle_s:g} s ...", flush=True)
            usages = sample([a, b], idle_s, 1.0)
        except (BenchError, httpx.HTTPError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    figures = Figures(samples, crons, usages, n_flows, idle_s)
    result = report(figures)
    result["meta"] = {"cpu_count": os.cpu_count(), "events": n_events, "flows": n_flows}
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    run_main(main, "every agent")
