#!/usr/bin/env python3
"""Pulse: the CPU cost of one evaluation of the default rules over 32 members' telemetry,
against a bare pass reading the same fields, measured in the same run.

Each member is a `MemberView` as `ctx.cluster` gives it: a full telemetry sample in the
heartbeat's JSON shape (4 disks, 2 GPUs) and capabilities (LLM backend up, storage figures,
breakers, brain backlog). Values drift a little every evaluation, and now and then cross a
threshold, so conditions move between statuses as in a live cluster.

1. One evaluation (`observe_all` + `Evaluator.evaluate`, what the agent runs every
   `pulse_interval`), in CPU time, per evaluation and per rule per member. Goal: under 1 ms
   per rule per member. Baseline: a bare pass over the same members reading the same fields
   (cpu, memory, each disk, each GPU, the capabilities) into a list, with no rules.
2. Its parts: reading the members (`observe_all`) and the rules alone (`evaluate` on
   observations made beforehand), each against the same baseline.
3. Memory search p50/p99 at 10,000 facts through the service (query encoding excluded),
   against a bare numpy top-k over the same matrix, and the other figures of `memory.py`.

    .venv/bin/python benchmarks/pulse.py [--quick] [--json FILE]

--quick: 200 evaluations instead of 2,000, and 2,000 facts instead of 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import Row, run_main, write_json

from agent.core.capabilities import Capabilities, LlmCapability
from agent.core.cluster import MemberView
from agent.peer.client import PeerTarget
from agent.pulse.evaluator import Evaluator
from agent.pulse.observe import observe_all
from agent.pulse.rulepack import load_rules

MEMBERS = 32
GOAL_MS = 1.0
ROUNDS = 5
GB = 1024**3


def sample(index: int, step: int) -> dict[str, Any]:
    """Member `index`'s telemetry at evaluation `step`: slow drift, a spike now and then."""
    wave = (step * 7 + index * 13) % 100
    busy = 95.0 if wave > 90 else 20.0 + wave / 2
    disks = [
        {
            "mountpoint": mount,
            "device": f"/dev/sd{i}",
            "fstype": "ext4",
            "total": 500 * GB,
            "used": int((40 + i * 15 + wave / 10) * 5 * GB),
            "free": int((60 - i * 15 - wave / 10) * 5 * GB) - step * 1024,
            "percent": min(99.0, 40 + i * 15 + wave / 10),
        }
        for i, mount in enumerate(("/", "/home", "/data", "/backup"))
    ]
    return {
        "ts": float(step),
        "node_id": f"node{index:02}",
        "cpu": {"percent": busy, "per_core": [busy] * 8, "count_logical": 8, "load": [1, 1, 1]},
        "memory": {"total": 32 * GB, "available": GB, "used": GB, "percent": 50 + wave / 3},
        "swap": {"total": 0, "used": 0, "free": 0, "percent": 0.0},
        "disks": disks,
        "storage": {"path": "/home/u/.openfabric", "total": 500 * GB, "used": 0, "free": 0},
        "network": [],
        "gpus": [{"index": g, "temperature_c": 60.0 + wave / 4 + g} for g in range(2)],
    }


def members(step: int) -> list[MemberView]:
    return [
        MemberView(
            node_id=f"node{i:02}",
            name=f"node-{i}",
            is_self=i == 0,
            state="offline" if (step // 50 + i) % 40 == 0 else "online",
            addresses=("127.0.0.1",),
            peer_port=4893,
            fingerprint="",
            version="bench",
            joined_at=0.0,
            last_seen=float(step),
            telemetry=sample(i, step),
            capabilities=Capabilities(
                llm=LlmCapability(up=(step + i) % 97 != 0),
                storage_used=(100 + i) * GB,
                storage_free=400 * GB,
                breakers_open=0,
                storage_degraded=0,
                brain_backlog=(step * 3 + i) % 700,
            ),
            target=PeerTarget(f"node{i:02}", ("127.0.0.1",), 4893, ""),
        )
        for i in range(MEMBERS)
    ]


def bare_pass(views: Sequence[MemberView]) -> list[float]:
    """The same fields read with no rule: the floor any evaluation stands on."""
    read: list[float] = []
    for view in views:
        sample = view.telemetry or {}
        read.append(sample["cpu"]["percent"])
        read.append(sample["memory"]["percent"])
        read.extend(disk["percent"] for disk in sample["disks"])
        read.extend(disk["free"] for disk in sample["disks"])
        read.extend(gpu["temperature_c"] for gpu in sample["gpus"])
        caps = view.capabilities
        read.append(float(bool(caps.llm and caps.llm.up)))
        read.extend(
            float(v or 0) for v in (caps.breakers_open, caps.storage_degraded, caps.brain_backlog)
        )
        read.extend(float(v or 0) for v in (caps.storage_used, caps.storage_free))
    return read


def cpu_per_call(work: Callable[[int], object], steps: int) -> float:
    """CPU seconds per call of `work(step)`, the median of `ROUNDS` runs of `steps` calls."""
    runs = []
    for _ in range(ROUNDS):
        began = time.process_time()
        for step in range(steps):
            work(step)
        runs.append((time.process_time() - began) / steps)
    return statistics.median(runs)


def pulse_rows(steps: int) -> tuple[list[Row], dict[str, Any]]:
    rules = [r for r in load_rules() if r.enabled]
    views = [members(step) for step in range(steps)]
    observed = [observe_all(v) for v in views]
    evaluator = Evaluator(rules)
    # Warm: a day of history, so the trend and every state machine are populated.
    for step in range(steps):
        evaluator.evaluate(observed[step], step * 300.0)
    offset = steps * 300.0

    def full(step: int) -> None:
        evaluator.evaluate(observe_all(views[step]), offset + step * 10.0)

    def rules_only(step: int) -> None:
        evaluator.evaluate(observed[step], offset * 2 + step * 10.0)

    baseline = cpu_per_call(lambda step: bare_pass(views[step]), steps)
    evaluation = cpu_per_call(full, steps)
    reading = cpu_per_call(lambda step: observe_all(views[step]), steps)
    judging = cpu_per_call(rules_only, steps)
    per = len(rules) * MEMBERS
    ms = 1000.0
    out = [
        Row("one evaluation (observe + rules)", evaluation * ms, baseline * ms, "ms"),
        Row("  per rule per member", evaluation * ms / per, baseline * ms / per, "ms",
            f"< {GOAL_MS:g} ms", evaluation * ms / per < GOAL_MS),
        Row("  reading the members (observe_all)", reading * ms, baseline * ms, "ms"),
        Row("  the rules alone (evaluate)", judging * ms, baseline * ms, "ms"),
    ]  # fmt: skip
    facts = {
        "members": MEMBERS,
        "rules": len(rules),
        "evaluations": steps,
        "conditions": len(evaluator.conditions),
        "cards": len(evaluator.cards()),
    }
    return out, facts


def table(rows: Sequence[Row]) -> str:
    head = f"{'measurement':40} {'measured':>11} {'baseline':>11} {'ratio':>7}  {'goal':22} met"
    lines = [head, "-" * len(head)]
    for r in rows:
        met = "-" if r.met is None else "yes" if r.met else "NO"
        ratio = "-" if math.isnan(r.ratio) else f"{r.ratio:.1f}"
        lines.append(
            f"{r.name:40} {r.measured:>8.4f} {r.unit} {r.baseline:>8.4f} {r.unit} "
            f"{ratio:>7}  {r.goal:22} {met}"
        )
    return "\n".join(lines)


# Further measurements of the Memory & Pulse benchmark: each takes `quick` and answers its
# rows and facts, printed in the same table.
def memory_part(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    """Memory search at 10,000 facts (2,000 with --quick): `memory.py`'s measurements."""
    import memory  # here, not at the top: it loads the embedding model's stack

    facts, queries = (2_000, 100) if quick else (10_000, 200)
    print(f"filling memory with {facts} facts and searching it {queries} times ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as folder:
        result = asyncio.run(memory.measure(facts, queries, Path(folder)))
    rows = [
        Row(r["name"], r["measured"], r["baseline"], r["unit"], f"vs {r['base_label']}")
        for r in result["rows"]
    ]
    return rows, {"memory": result}


EXTRA_PARTS: list[Callable[[bool], tuple[list[Row], dict[str, Any]]]] = [memory_part]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 evaluations (a few seconds)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    args = parser.parse_args()
    steps = 200 if args.quick else 2000
    print(f"evaluating {MEMBERS} synthetic members {steps} times, {ROUNDS} rounds ...", flush=True)
    rows, facts = pulse_rows(steps)
    result: dict[str, Any] = {"pulse": facts}
    for part in EXTRA_PARTS:
        more, part_facts = part(args.quick)
        rows += more
        result.update(part_facts)
    print("\n" + table(rows) + "\n")
    print(
        f"{facts['rules']} enabled rules x {facts['members']} members; after warming, "
        f"{facts['conditions']} conditions held and {facts['cards']} cards active. CPU time "
        "(process_time), median of 5 rounds. Baseline: a bare pass reading the same fields."
    )
    result["rows"] = [asdict(r) | {"ratio": r.ratio} for r in rows]
    write_json(args.json, result)
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    run_main(main)
