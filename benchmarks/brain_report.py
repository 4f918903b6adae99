"""The table of `brain.py`: one row per measurement (measured, baseline, ratio, goal, met)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from brain_live import Busy, Freshness
from brain_quality import Quality
from brain_vectors import VectorResult
from common import Row

GOAL_RECALL, GOAL_P50_MS, GOAL_RATE, GOAL_FRESH_S, GOAL_STATUS_MS = 0.95, 20.0, 0.9, 2.0, 50.0
NOISY_PCT = 15.0  # CPU % of one core used by anything else that makes a run noisy


def ms(seconds: list[float], q: float) -> float:
    """The q-th percentile in milliseconds; infinite when nothing was measured."""
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else math.inf


@dataclass
class Measured:
    vectors: VectorResult
    endpoint_s: list[float]
    endpoint_base_s: list[float]
    e2e_chunks: int
    scan_rate: float
    encode_rate: float
    fresh: Freshness
    fresh_base_s: list[float]
    idle_s: list[float]
    busy: Busy
    quality: list[Quality]


def rows(m: Measured) -> list[Row]:
    v, fresh, size = m.vectors, m.fresh, f"{m.vectors.size // 1000}k"
    fresh_goal = f"p95 < {GOAL_FRESH_S:g} s"
    base95 = ms(m.fresh_base_s, 95)
    out = [
        Row(f"recall@10 at {size}, vs exact", v.recall, 1.0, "", f">= {GOAL_RECALL}"),
        Row(f"VectorIndex.search p50 at {size}", v.p50_ms, v.exact_p50_ms, "ms"),
        Row(f"VectorIndex.search p99 at {size}", v.p99_ms, v.exact_p99_ms, "ms"),
        Row(f"search?mode=vector p50, {m.e2e_chunks} ch", ms(m.endpoint_s, 50),
            ms(m.endpoint_base_s, 50), "ms"),
        Row(f"search?mode=vector p99, {m.e2e_chunks} ch", ms(m.endpoint_s, 99),
            ms(m.endpoint_base_s, 99), "ms"),
        Row("indexing throughput", m.scan_rate, m.encode_rate, "/s", f">= {GOAL_RATE} x"),
        Row("new file -> lexical hit p95", ms(fresh.lexical_s, 95), base95, "ms", fresh_goal),
        Row("new file -> vector hit p95", ms(fresh.vector_s, 95), base95, "ms", fresh_goal),
        Row("modified -> old gone, new hit p95", ms(fresh.modify_s, 95), base95, "ms", fresh_goal),
        Row("/api/status p99 while indexing", ms(m.busy.latencies_s, 99), ms(m.idle_s, 99), "ms",
            f"< {GOAL_STATUS_MS:g} ms"),
    ]  # fmt: skip
    out[0].met = v.recall >= GOAL_RECALL
    out[1].goal, out[1].met = f"< {GOAL_P50_MS:g} ms", v.p50_ms < GOAL_P50_MS
    out[5].met = m.scan_rate >= GOAL_RATE * m.encode_rate
    for row in out[6:9]:
        row.met = row.measured < GOAL_FRESH_S * 1000 and not fresh.missed
    out[9].met = out[9].measured < GOAL_STATUS_MS
    base = m.quality[0]  # vector search
    for q in m.quality:
        for metric, label in (("recall_at_5", "recall@5"), ("mrr_at_10", "MRR@10")):
            value, floor = getattr(q, metric), getattr(base, metric)
            hybrid = q.mode == "hybrid"
            goal, met = (">= vector", value >= floor) if hybrid else ("-", None)
            out.append(Row(f"{label}, {q.mode}", value, floor, "", goal, met))
    return out


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 10_000 else f"{value / 1000:.1f} s"
    return f"{value:.1f}{unit}" if unit else f"{value:.3f}"


def table(result: dict[str, Any]) -> str:
    head = f"{'measurement':38} {'measured':>10} {'baseline':>10} {'ratio':>6}  {'goal':12} met"
    lines = [head, "-" * len(head)]
    for r in result["rows"]:
        met = "-" if r["met"] is None else "yes" if r["met"] else "NO"
        ratio = "-" if math.isnan(r["ratio"]) else f"{r['ratio']:.2f}"
        measured, baseline = fmt(r["measured"], r["unit"]), fmt(r["baseline"], r["unit"])
        lines.append(
            f"{r['name']:38} {measured:>10} {baseline:>10} {ratio:>6}  {r['goal']:12} {met}"
        )
    return "\n".join(lines)


def notes(result: dict[str, Any]) -> str:
    fresh, busy, scan = result["freshness"], result["busy"], result["scan"]
    idx, corpus = result["agent_index"], result["corpus"]
    other = result["other_cpu_pct"]
    noisy = "; the machine was busy: repeat the run" if other > NOISY_PCT else ""
    lexical = [s * 1000 for s in fresh["lexical_s"]]
    spread = f"p50 {np.median(lexical):.0f} ms, max {max(lexical):.0f} ms" if lexical else "none"
    lines = [
        f"vectors: {result['vectors_made']}.",
        "baselines: exact = numpy brute force over the same vectors; search?mode=vector = this "
        "process encoding the query and searching a VectorIndex of the same chunks; indexing = "
        "SentenceEmbedder('').encode of the same chunk texts (mean of a run before and one after "
        f"the agent's: {result['encode_rates'][0]:.1f} and {result['encode_rates'][1]:.1f}/s); "
        "freshness = encoding one note here; status = the same agent idle; quality = vector "
        "search.",
        f"end-to-end index: {idx['files']} files, {idx['chunks']} chunks ({corpus['files']} "
        f"Factbook files cut into {corpus['chunks']} chunks); "
        f"the scan embedded {scan['chunks_embedded']} and reused {scan['chunks_reused']} in "
        f"{scan['wall_s']:.1f} s; {result['queries']} labelled queries.",
        f"freshness: {len(fresh['lexical_s'])} new files found by lexical search ({spread}), "
        f"{len(fresh['vector_s'])} by vector search, {len(fresh['modify_s'])} modified; "
        f"{fresh['missed']} not found within 30 s.",
        f"while indexing: the agent used {busy['agent_cpu_pct']:.0f} % of one core over the "
        f"window; {busy['embedded_by_end']} chunks of the large folder counted as embedded by "
        "its end (the count moves once per encoded batch); still "
        f"indexing at its end: {'yes' if busy['indexing_throughout'] else 'NO'}.",
        f"other processes used {other:.0f} % of one core on average during the run "
        f"({os.cpu_count()} cores){noisy}.",
    ]
    for q in result["quality"]:
        kinds = ", ".join(f"{k} {r:.2f} / {m:.2f}" for k, (r, m) in q["by_kind"].items())
        lines.append(f"{q['mode']:>8}: recall@5 / MRR@10 by kind of query: {kinds}")
    return "\n".join(lines)


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float made None, so the JSON file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
