"""The table and the JSON of `flows.py`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from common import Row
from flows_events import Sample
from idle import Usage

GOAL_TRIGGER_MS = 20.0
GOAL_IDLE_CPU_PCT = 1.0
GOAL_FIRING_P99_S = 1.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Figures:
    samples: list[Sample]
    crons: dict[str, Any]
    usages: list[Usage]  # A (the flows), B (none)
    flows: int
    idle_s: float


def _ms(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(pct(values, q / 100) * 1000, 3) for q in (50, 95, 99)}


def trigger_rows(samples: list[Sample]) -> tuple[list[Row], dict[str, Any]]:
    base = [s.event_seen - s.stored for s in samples]
    step = [s.step_seen - s.stored for s in samples]
    added = [s.step_seen - s.event_seen for s in samples]
    rows = []
    for q in (50, 95, 99):
        goal = q == 50
        rows.append(
            Row(
                f"event -> first step started, p{q}",
                pct(step, q / 100) * 1000,
                pct(base, q / 100) * 1000,
                "ms",
            )
        )
        added_q = pct(added, q / 100) * 1000
        rows.append(
            Row(
                f"  added by flows, p{q}",
                added_q,
                math.nan,
                "ms",
                f"< {GOAL_TRIGGER_MS:g} ms" if goal else "-",
                added_q < GOAL_TRIGGER_MS if goal else None,
            )
        )
    parts = {
        "stored_to_trigger_at": [s.trigger_at - s.stored for s in samples],
        "trigger_at_to_created": [s.created_at - s.trigger_at for s in samples],
        "created_to_run_started": [s.run_started_at - s.created_at for s in samples],
        "run_started_to_step_started": [s.step_started_at - s.run_started_at for s in samples],
        "step_started_to_step_seen": [s.step_seen - s.step_started_at for s in samples],
    }
    data = {
        "n": len(samples),
        "baseline_event_delivery_ms": _ms(base),
        "first_step_seen_ms": _ms(step),
        "added_by_flows_ms": _ms(added),
        "parts_ms": {k: _ms(v) for k, v in parts.items()},
    }
    return rows, data


def cron_rows(f: Figures) -> tuple[list[Row], dict[str, Any]]:
    delays = f.crons["delays"]
    started = [d["run_started_s"] for d in delays]
    late = f.crons["loop_lateness_s"]
    a, b = f.usages
    created = f.crons["created"]
    rows = [
        Row(f"{f.flows} cron flows created", created["per_s"], math.nan, "flows/s"),
        Row(f"firing delay p50 ({len(started)} runs)", pct(started, 0.5), pct(late, 0.5), "s"),
        Row(
            "firing delay p99",
            pct(started, 0.99),
            max(late),
            "s",
            f"< {GOAL_FIRING_P99_S:g} s",
            pct(started, 0.99) < GOAL_FIRING_P99_S,
        ),
        Row(
            f"idle CPU, {f.flows} flows vs none",
            a.cpu_pct,
            b.cpu_pct,
            "% core",
            f"<= {GOAL_IDLE_CPU_PCT:g} %",
            a.cpu_pct <= GOAL_IDLE_CPU_PCT,
        ),
        Row("RSS peak, flows vs none", a.rss_peak_mb, b.rss_peak_mb, "MB"),
    ]
    data = dict(f.crons)
    data["idle"] = {"seconds": f.idle_s, "a": asdict(a), "b": asdict(b)}
    return rows, data


def _cell(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:.2f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def report(f: Figures) -> dict[str, Any]:
    trig, trig_data = trigger_rows(f.samples)
    crons, cron_data = cron_rows(f)
    head = f"{'measurement':42} {'measured':>13} {'baseline':>13} {'ratio':>6} {'goal':>10} met"
    print(f"\n{head}\n{'-' * len(head)}")
    for row in trig + crons:
        ratio = "-" if math.isnan(row.ratio) else f"{row.ratio:.2f}"
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        print(
            f"{row.name:42} {_cell(row.measured, row.unit):>13} "
            f"{_cell(row.baseline, row.unit):>13} {ratio:>6} {row.goal:>10} {met}"
        )
    window = f.crons["firing_window"]
    print(
        f"\nbaselines: event rows - the trigger event's own delivery to the client; firing - "
        f"an asyncio sleep until the same minute; CPU/RSS - agent B with no flows.\n"
        f"during the firing window ({window['wall_s']} s): A {window['a_cpu_pct']} %, "
        f"B {window['b_cpu_pct']} % of one core"
    )
    return {
        "trigger": trig_data,
        "cron": cron_data,
        "rows": [asdict(r) | {"ratio": r.ratio} for r in trig + crons],
        "goals_met": {r.name.strip(): r.met for r in trig + crons if r.met is not None},
    }
