"""Rules as data: the shape of one rule, and the checks that make a bad one fail at load.

A rule watches one metric at a scope (per node, per node and subject, or the cluster) in a
direction (`above`: high is bad; `below`: low is bad). Warning and critical each have a
`raise` and a `clear` value: a status is entered at `raise` and kept until the value passes
`clear` (hysteresis), so a value hovering at a threshold does not flap. `for` is how long a
worse status must hold before it is shown; `clear_after`, how long a better one must hold.
"""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import Field, model_validator

from agent.core.wire import StrictModel
from agent.pulse.metrics import METRIC_SCOPES, SCOPE_RANK, Scope

MAX_TEXT = 1000
WEEK_S = 7 * 86400.0
# What templates may name; every one has a value whenever a card is written.
TEMPLATE_FIELDS = frozenset(
    {"node", "node_id", "subject", "value", "threshold", "severity", "duration", "title"}
)
SAMPLE_VALUES: dict[str, object] = {
    "node": "node",
    "node_id": "0" * 16,
    "subject": "/",
    "value": 1.0,
    "threshold": 1.0,
    "severity": "warning",
    "duration": "1 min",
    "title": "title",
}
RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Seconds = Annotated[float, Field(ge=0, le=WEEK_S)]


class Threshold(StrictModel):
    raise_: float = Field(alias="raise")
    clear: float


class Rule(StrictModel):
    id: RuleId
    enabled: bool = True
    title: Annotated[str, Field(min_length=1, max_length=200)]
    what: Text
    why: Text
    action: Text
    metric: str
    scope: Scope
    direction: Literal["above", "below"]
    warning: Threshold | None = None
    critical: Threshold | None = None
    for_: Seconds = Field(default=0.0, alias="for")
    clear_after: Seconds = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        native = METRIC_SCOPES.get(self.metric)
        if native is None:
            known = ", ".join(sorted(METRIC_SCOPES))
            raise ValueError(f"metric: unknown metric {self.metric!r} (known: {known})")
        if SCOPE_RANK[self.scope] < SCOPE_RANK[native]:
            raise ValueError(
                f"scope: metric {self.metric} is per {native}: scope cannot be {self.scope}"
            )
        if self.warning is None and self.critical is None:
            raise ValueError("a rule needs a warning or a critical threshold")
        for name, level in (("warning", self.warning), ("critical", self.critical)):
            if level is not None and not self._sane(level):
                side = "at or below" if self.direction == "above" else "at or above"
                raise ValueError(
                    f"{name}: clear must be {side} raise for direction {self.direction}"
                )
        if self.warning and self.critical and not self._worse(self.critical, self.warning):
            raise ValueError(
                f"critical: raise must be beyond the warning's raise ({self.direction})"
            )
        for field in ("what", "why", "action"):
            check_template(field, getattr(self, field))
        return self

    def _sane(self, level: Threshold) -> bool:
        if self.direction == "above":
            return level.clear <= level.raise_
        return level.clear >= level.raise_

    def _worse(self, a: Threshold, b: Threshold) -> bool:
        return a.raise_ >= b.raise_ if self.direction == "above" else a.raise_ <= b.raise_


def check_template(field: str, template: str) -> None:
    """Only named values, no attribute or index access, no nested fields; and it must
    format with sample values (a `:d` on a float fails here, not when a card is written)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None
    for _, name, spec, _ in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            allowed = ", ".join(sorted(TEMPLATE_FIELDS))
            raise ValueError(f"{field}: {{{name}}} is not a value it may use ({allowed})")
        if spec and ("{" in spec or "}" in spec):
            raise ValueError(f"{field}: nested fields are not allowed in {{{name}:{spec}}}")
    try:
        template.format(**SAMPLE_VALUES)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"{field}: {exc}") from None


def render(template: str, values: dict[str, object]) -> str:
    return template.format(**values)[: MAX_TEXT * 2]
