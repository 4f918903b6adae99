"""Writing a card: the rule's templates filled with the condition's figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.pulse.models import Insight
from agent.pulse.rules import render

if TYPE_CHECKING:
    from agent.pulse.condition import Condition

UNITS = ((86400, "d"), (3600, "h"), (60, "min"))


def duration(seconds: float) -> str:
    """`45 s`, `5 min`, `2 h 5 min`, `3 d 4 h`: the largest unit and the next one."""
    left = max(0, int(seconds))
    for index, (size, unit) in enumerate(UNITS):
        if left >= size:
            text = f"{left // size} {unit}"
            if index + 1 < len(UNITS):
                smaller, name = UNITS[index + 1]
                rest = left % size // smaller
                text += f" {rest} {name}" if rest else ""
            return text
    return f"{left} s"


def card_of(key: str, condition: Condition, now: float) -> Insight | None:
    """The card for the condition's status now; None when it is ok."""
    status = condition.status
    if status == "ok" or condition.since is None:
        return None
    rule = condition.rule
    level = rule.critical if status == "critical" else rule.warning
    values: dict[str, object] = {
        "node": condition.node_name or condition.node_id or "the cluster",
        "node_id": condition.node_id or "cluster",
        "subject": condition.subject or "",
        "value": condition.value if condition.value is not None else 0.0,
        "threshold": level.raise_ if level is not None else 0.0,
        "severity": status,
        "duration": duration(now - condition.since),
        "title": rule.title,
    }
    return Insight(
        id=key,
        rule=rule.id,
        severity=status,
        title=rule.title,
        what=render(rule.what, values),
        why=render(rule.why, values),
        action=render(rule.action, values),
        since=condition.since,
        updated_at=now,
        node_id=condition.node_id,
        node_name=condition.node_name,
        subject=condition.subject,
        value=condition.value,
        dismissed=False,
    )
