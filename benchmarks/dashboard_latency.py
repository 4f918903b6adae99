"""Heartbeat -> screen latency from what the members sent and what the page showed.

A send is (node_id, marker text, wall time just before sending, HTTP status); an observation
is (node_id, text, page time in ms) for each time a card (or the bare reader) showed a text.
Each observation is identified with the send it shows: the latest send of that marker by that
member before it was seen. A heartbeat's latency is until its member first showed it or a
newer one: a page that draws once per frame may skip a sample that a newer one replaced
within the frame, and what a person sees is then at least as new.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from typing import Any

Send = tuple[str, str, float, int]
Observation = tuple[str, str, float]
SLACK_S = 0.001  # the clock offset's own error


def percentile(values: list[float], q: float) -> float:
    """Nearest rank; `values` sorted."""
    if not values:
        return math.nan
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def shown(
    sends: list[Send], observed: list[Observation], offset_ms: float
) -> dict[str, list[tuple[float, float]]]:
    """node_id -> [(seen at, sent at of the heartbeat it shows)], by time seen."""
    sent_at: dict[tuple[str, str], list[float]] = defaultdict(list)
    for node, text, sent, _ in sends:
        sent_at[(node, text)].append(sent)
    for times in sent_at.values():
        times.sort()
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for node, text, page_ms in observed:
        seen = (page_ms - offset_ms) / 1000
        candidates = sent_at.get((node, text), [])
        i = bisect.bisect_right(candidates, seen + SLACK_S) - 1
        if i >= 0:
            found[node].append((seen, candidates[i]))
    for views in found.values():
        views.sort()
    return found


def went_back(views: dict[str, list[tuple[float, float]]], start: float) -> int:
    """How often a member's shown sample went back to an older one than it had shown."""
    count = 0
    for node_views in views.values():
        newest = -math.inf
        for seen, version in node_views:
            if seen < start:
                continue
            if version < newest:
                count += 1
            else:
                newest = version
    return count


def latencies(
    sends: list[Send],
    observed: list[Observation],
    offset_ms: float,
    start: float,
    end: float,
    members: set[str],
) -> dict[str, Any]:
    """Every heartbeat of `members` sent in [start, end]; one never shown (nor a newer one)
    counts as infinitely late."""
    views = shown(sends, observed, offset_ms)
    lat: list[float] = []
    exact = superseded = failed = 0
    missed: list[list[Any]] = []
    for node, text, sent, status in sends:
        if node not in members or not start <= sent <= end:
            continue
        if status != 200:
            failed += 1
            continue
        first = next(
            ((seen, v) for seen, v in views.get(node, []) if v >= sent and seen >= sent - SLACK_S),
            None,
        )
        if first is None:
            missed.append([node, text, round(sent - start, 3)])
            continue
        lat.append(max(0.0, first[0] - sent) * 1000)
        if first[1] == sent:
            exact += 1
        else:
            superseded += 1
    ranked = sorted(lat) + [math.inf] * len(missed)
    return {
        "sent": len(ranked) + failed,
        "seen": exact,
        "superseded": superseded,
        "missed": len(missed),
        # [node_id, marker, sent (s into the window)]
        "missed_sends": missed[:100],
        "failed_sends": failed,
        "went_back": went_back(views, start),
        "p50_ms": round(percentile(ranked, 50), 1),
        "p95_ms": round(percentile(ranked, 95), 1),
        "max_ms": round(ranked[-1], 1) if ranked else math.nan,
        "latencies_ms": [round(v, 2) for v in lat],
    }
