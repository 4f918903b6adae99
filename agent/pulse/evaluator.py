"""The evaluator: rules over observations, with a clock given at each call and no I/O.

`evaluate(observations, now)` reads every enabled rule's metric for every member (or the
cluster), steps each condition, and answers what it saw (`Evaluation`s) and what changed
(`StateChange`s); `cards()` is the table of active insights that follows. Every node runs one,
so whichever becomes the cluster's evaluator already knows since when each condition holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from agent.pulse.condition import RANK, Condition
from agent.pulse.metrics import CLUSTER_METRICS, NODE_METRICS, Memory, Reading
from agent.pulse.models import Evaluation, Insight, StateChange
from agent.pulse.observe import Observation
from agent.pulse.rules import Rule
from agent.pulse.texts import card_of

# Conditions remembered at once; a member claiming thousands of disks cannot grow it further.
MAX_CONDITIONS = 4096
CLUSTER = "cluster"
Where = tuple[str | None, str | None, str | None]  # node id, node name, subject


@dataclass(slots=True)
class Tick:
    evaluations: list[Evaluation] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)


def insight_id(rule_id: str, node_id: str | None, subject: str | None) -> str:
    if node_id is None:
        return f"{rule_id}:{CLUSTER}"
    return f"{rule_id}:{node_id}" + (f":{subject}" if subject is not None else "")


class Evaluator:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = [rule for rule in rules if rule.enabled]
        self.memory = Memory()
        self.conditions: dict[str, Condition] = {}
        self.skipped = 0  # readings left out because MAX_CONDITIONS were held

    def evaluate(self, observations: Sequence[Observation], now: float) -> Tick:
        self.memory.update(observations, now)
        tick = Tick()
        seen: set[str] = set()
        for rule in self.rules:
            for (node_id, name, subject), value in self._readings(rule, observations):
                key = insight_id(rule.id, node_id, subject)
                condition = self.conditions.get(key)
                if condition is None:
                    if len(self.conditions) >= MAX_CONDITIONS:
                        self.skipped += 1
                        continue
                    condition = self.conditions[key] = Condition(rule, node_id, name, subject)
                condition.node_name = name
                seen.add(key)
                self._step(key, condition, value, now, tick)
        for key, condition in list(self.conditions.items()):
            if key not in seen:
                # Not observed (gone, offline, no reading): it counts as fine.
                self._step(key, condition, None, now, tick)
                if condition.idle:
                    del self.conditions[key]
        return tick

    def _step(
        self, key: str, condition: Condition, value: float | None, now: float, tick: Tick
    ) -> None:
        target, before = condition.step(value, now)
        rule = condition.rule
        # Built from this evaluator's own figures, hundreds per evaluation: no validation.
        tick.evaluations.append(
            Evaluation.model_construct(
                at=now,
                rule=rule.id,
                node_id=condition.node_id,
                subject=condition.subject,
                value=value,
                status=target,
            )
        )
        if before is not None:
            condition.shown = card_of(key, condition, now)
            tick.changes.append(
                StateChange(
                    at=now,
                    insight_id=key,
                    rule=rule.id,
                    node_id=condition.node_id,
                    from_status=before,
                    to_status=condition.status,
                    dismissed=False,
                )
            )

    def _readings(
        self, rule: Rule, observations: Sequence[Observation]
    ) -> Iterator[tuple[Where, float]]:
        if rule.metric in CLUSTER_METRICS:
            value = CLUSTER_METRICS[rule.metric](observations)
            if value is not None:
                yield (None, None, None), value
            return
        metric = NODE_METRICS[rule.metric]
        worst = max if rule.direction == "above" else min
        gathered: list[float] = []
        for obs in observations:
            if obs.offline and rule.metric != "offline":
                continue
            readings: list[Reading] = list(metric(obs, self.memory))
            if not readings:
                continue
            if rule.scope == "subject":
                for subject, value in readings:
                    yield (obs.node_id, obs.name, subject), value
            elif rule.scope == "node":
                yield (obs.node_id, obs.name, None), worst(v for _, v in readings)
            else:
                gathered.extend(v for _, v in readings)
        if gathered and rule.scope == "cluster":
            yield (None, None, None), worst(gathered)

    def cards(self) -> list[Insight]:
        """The active insights, critical first, then newest."""
        shown = [c.card() for c in self.conditions.values() if c.shown is not None]
        return sorted(shown, key=lambda card: (-RANK[card.severity], -card.since, card.id))

    def dismiss(self, key: str, now: float) -> tuple[Insight, StateChange | None] | None:
        """Hide an active card (None when there is none by that id); answers the card and
        the change, None for one already dismissed."""
        condition = self.conditions.get(key)
        if condition is None or condition.shown is None:
            return None
        if condition.dismissed:
            return condition.card(), None
        condition.dismissed = True
        condition.changed_at = now
        change = StateChange(
            at=now,
            insight_id=key,
            rule=condition.rule.id,
            node_id=condition.node_id,
            from_status=condition.status,
            to_status=condition.status,
            dismissed=True,
        )
        return condition.card(), change

    def adopt_dismissals(self, cards: Sequence[Insight]) -> None:
        """Keep the dismissals of the table the previous evaluator published, for the cards
        that are no worse here than they were there."""
        for card in cards:
            condition = self.conditions.get(card.id)
            if (
                card.dismissed
                and condition is not None
                and condition.status != "ok"
                and RANK[condition.status] <= RANK[card.severity]
            ):
                condition.dismissed = True
