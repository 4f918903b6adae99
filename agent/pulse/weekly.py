"""The weekly digest, from figures already gathered: this node's observations (uptime and
storage), the state changes it recorded, and every member's ledger (its own and the others',
summed: each task and each generation is in exactly one member's ledger)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.pulse.ledger import Ledger
from agent.pulse.models import (
    InsightTally,
    PeerLedger,
    StateChange,
    TaskCounts,
    TokenCount,
    WeeklyDigest,
)

WEEK_S = 7 * 86400.0
TOP = 10


def tally(
    changes: Sequence[StateChange], titles: Mapping[str, str], since: float, until: float
) -> list[InsightTally]:
    """Per rule: how often its cards were raised in the period and how long they were
    active within it. `changes` are oldest first and may begin before the period."""
    raised: dict[str, int] = {}
    active: dict[str, float] = {}
    began: dict[str, tuple[str, float]] = {}  # insight id -> (rule, when it became active)
    for change in changes:
        if change.dismissed or change.at > until:
            continue
        if change.from_status == "ok" and change.to_status != "ok":
            began[change.insight_id] = (change.rule, change.at)
            if change.at >= since:
                raised[change.rule] = raised.get(change.rule, 0) + 1
        elif change.to_status == "ok" and change.insight_id in began:
            rule, start = began.pop(change.insight_id)
            _add(active, rule, start, change.at, since)
    for rule, start in began.values():
        _add(active, rule, start, until, since)
    rules = set(raised) | {rule for rule, seconds in active.items() if seconds > 0}
    tallies = [
        InsightTally(
            rule=rule,
            title=titles.get(rule, rule),
            raised=raised.get(rule, 0),
            active_s=round(active.get(rule, 0.0), 3),
        )
        for rule in rules
    ]
    tallies.sort(key=lambda t: (-t.raised, -t.active_s, t.rule))
    return tallies[:TOP]


def _add(active: dict[str, float], rule: str, start: float, end: float, since: float) -> None:
    seconds = end - max(start, since)
    if seconds > 0:
        active[rule] = active.get(rule, 0.0) + seconds


def summed(ledgers: Sequence[PeerLedger]) -> tuple[list[TaskCounts], list[TokenCount]]:
    per_node: dict[str, list[int]] = {}
    total = [0, 0]
    tokens: dict[tuple[str, str], int] = {}
    for ledger in ledgers:
        for row in ledger.tasks:
            total[0] += row.run
            total[1] += row.failed
            if row.node_id is not None:
                counts = per_node.setdefault(row.node_id, [0, 0])
                counts[0] += row.run
                counts[1] += row.failed
        for token_row in ledger.tokens:
            key = (token_row.model, token_row.node_id)
            tokens[key] = tokens.get(key, 0) + token_row.tokens
    tasks = [TaskCounts(node_id=None, run=total[0], failed=total[1])]
    tasks += [TaskCounts(node_id=n, run=r, failed=f) for n, (r, f) in sorted(per_node.items())]
    generated = [TokenCount(model=m, node_id=n, tokens=t) for (m, n), t in tokens.items()]
    generated.sort(key=lambda c: (-c.tokens, c.model, c.node_id))
    return tasks, generated


def digest(
    until: float,
    ledger: Ledger,
    others: Sequence[PeerLedger],
    changes: Sequence[StateChange],
    titles: Mapping[str, str],
    missing: Sequence[str],
) -> WeeklyDigest:
    since = until - WEEK_S
    tasks, tokens = summed([ledger.summary(since, until), *others])
    return WeeklyDigest(
        since=since,
        until=until,
        uptime=ledger.uptime_in(since, until),
        tasks=tasks,
        storage=ledger.storage_in(since, until),
        tokens=tokens,
        top_insights=tally(changes, titles, since, until),
        missing=sorted(missing),
    )
