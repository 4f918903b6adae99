"""The table dashboard.py prints: each figure beside its same-run baseline, the ratio, the goal."""

from __future__ import annotations

import math
from typing import Any

GOAL_BUSY_PCT = 5.0
GOAL_P95_MS = 250.0
NOISY_PCT = 15.0  # CPU % of one core used by anything else in a window that makes it noisy


def _ms(value: float) -> str:
    return "never" if math.isinf(value) else "n/a" if math.isnan(value) else f"{value:.0f} ms"


def _ratio(a: float, b: float) -> str:
    if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return "n/a"
    return f"{a / b:.2f}"


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def report(result: dict[str, Any]) -> None:
    n = result["meta"]["members"]
    alone, loaded = result["alone"]["busy_pct"], result["members"]["busy_pct"]
    rows = [["measurement", f"Overview, {n} members", "baseline", "ratio", "goal", "met"]]
    busy, base = loaded["TaskDuration"], alone["TaskDuration"]
    rows.append(
        [
            "main-thread busy, % of a core",
            f"{busy:.2f} %",
            f"alone {base:.2f} %",
            _ratio(busy, base),
            f"<= {GOAL_BUSY_PCT:g} %",
            _met(busy <= GOAL_BUSY_PCT),
        ]
    )
    for key, label in (
        ("ScriptDuration", "  script"),
        ("LayoutDuration", "  layout"),
        ("RecalcStyleDuration", "  style"),
        ("ThreadTime", "main-thread CPU time"),
        ("ProcessTime", "renderer process CPU"),
    ):
        a, b = loaded.get(key, math.nan), alone.get(key, math.nan)
        rows.append([label, f"{a:.2f} %", f"alone {b:.2f} %", _ratio(a, b), "", ""])
    lat, floor = result["members"]["latency"], result["bare"]["latency"]
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("max_ms", "max")):
        a, b = lat[key], floor[key]
        goal = key == "p95_ms"
        rows.append(
            [
                f"heartbeat -> screen, {label}",
                _ms(a),
                f"bare reader {_ms(b)}",
                _ratio(a, b),
                f"<= {GOAL_P95_MS:g} ms" if goal else "",
                _met(a <= GOAL_P95_MS) if goal else "",
            ]
        )
    rows.append(
        [
            "  shown / sent (+ only a newer one)",
            f"{lat['seen']} / {lat['sent']} (+{lat['superseded']})",
            f"bare reader {floor['seen']} / {floor['sent']} (+{floor['superseded']})",
            "",
            "",
            "",
        ]
    )
    rows.append(
        [
            "  older sample shown again",
            str(lat["went_back"]),
            f"bare reader {floor['went_back']}",
            "",
            "",
            "",
        ]
    )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("-" * (sum(widths) + 10))
    print()
    head = f"{'CPU % of a core':24} {'agent':>6} {'members':>8} {'browser':>8} {'bench':>6} "
    print(head + f"{'other':>6}")
    noisy = 0.0
    for key, label in (
        ("alone", "window 1, alone"),
        ("members", "window 2, members"),
        ("bare", "window 3, bare reader"),
    ):
        cpu = result[key]["cpu_pct"]
        noisy = max(noisy, cpu["other"])
        print(
            f"{label:24} {cpu['agent']:>6.1f} {cpu['members']:>8.1f} {cpu['browser']:>8.1f} "
            f"{cpu['bench']:>6.1f} {cpu['other']:>6.1f}"
        )
    offsets = [result[k]["latency"]["clock"]["offset_ms"] for k in ("members", "bare")]
    print(f"\npage clock - this clock: {offsets[0]:+.2f} ms / {offsets[1]:+.2f} ms (corrected)")
    if lat["failed_sends"] or floor["failed_sends"]:
        print(f"heartbeats the agent refused: {lat['failed_sends']} / {floor['failed_sends']}")
    if noisy > NOISY_PCT:
        print(f"noisy: other processes used up to {noisy:.0f} % of a core; repeat the run")
