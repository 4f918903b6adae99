"""One watched condition (a rule about one node, subject or the cluster) and its status.

The thresholds give a target status that depends on the status now (hysteresis). A worse
target must hold for the rule's `for` before the status follows it, a better one for its
`clear_after`; a target that changes back resets the wait. So a value oscillating around a
threshold changes nothing, and a brief spike or dip is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.pulse.models import Insight, Status
from agent.pulse.rules import Rule, Threshold

# Notices may be "info", which no rule's condition is: it ranks below warning.
RANK: dict[str, int] = {"ok": 0, "info": 1, "warning": 2, "critical": 3}


def _holds(rule: Rule, level: Threshold, value: float, entered: bool) -> bool:
    """Whether `value` is in this level: past `raise`, or, once entered, not yet past `clear`."""
    if rule.direction == "above":
        return value >= level.raise_ or (entered and value > level.clear)
    return value <= level.raise_ or (entered and value < level.clear)


def target_status(rule: Rule, value: float | None, status: Status) -> Status:
    if value is None:
        return "ok"
    if rule.critical is not None and _holds(rule, rule.critical, value, status == "critical"):
        return "critical"
    if rule.warning is not None and _holds(rule, rule.warning, value, status != "ok"):
        return "warning"
    return "ok"


@dataclass(slots=True)
class Condition:
    rule: Rule
    node_id: str | None
    node_name: str | None
    subject: str | None
    status: Status = "ok"
    # When the current non-ok episode began (the first evaluation that wanted worse than ok).
    since: float | None = None
    # When the target first differed from the status, in either direction.
    worse_since: float | None = None
    better_since: float | None = None
    value: float | None = None
    changed_at: float = 0.0
    dismissed: bool = False
    # The card as written at the last change of status; None while ok.
    shown: Insight | None = None

    def card(self) -> Insight:
        assert self.shown is not None
        return self.shown.model_copy(
            update={"dismissed": self.dismissed, "updated_at": self.changed_at}
        )

    def step(self, value: float | None, now: float) -> tuple[Status, Status | None]:
        """Evaluate one reading: answers the target status and, when the status changed,
        the status before."""
        target = target_status(self.rule, value, self.status)
        before = self.status
        if RANK[target] > RANK[before]:
            self.better_since = None
            if self.worse_since is None:
                self.worse_since = now
            if now - self.worse_since >= self.rule.for_:
                self._move(target, value, now)
        elif RANK[target] < RANK[before]:
            self.worse_since = None
            if self.better_since is None:
                self.better_since = now
            if now - self.better_since >= self.rule.clear_after:
                self._move(target, value, now)
        else:
            self.worse_since = self.better_since = None
            if before == "ok":
                self.since = None
        return target, (before if self.status != before else None)

    def _move(self, status: Status, value: float | None, now: float) -> None:
        if self.status == "ok":
            self.since = self.worse_since
        if status == "ok" or RANK[status] > RANK[self.status]:
            # Cleared, or worse than when it was dismissed: it shows again.
            self.dismissed = False
        self.status = status
        self.value = value
        self.changed_at = now
        self.worse_since = self.better_since = None
        if status == "ok":
            self.since = None

    @property
    def idle(self) -> bool:
        """Nothing to remember: ok and waiting for nothing."""
        return self.status == "ok" and self.worse_since is None
