"""Topics flows publish. A run's events come from the member that runs it; a definition's
change from the member where it was saved and from each member that merges it. No payload
carries a step's inputs or outputs (they may hold secrets fetched by an earlier step)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agent.core.events import Topic
from agent.core.wire import Answer
from agent.flows.models import RunState, StepState, TriggerKind

FlowChange = Literal["created", "updated", "deleted", "enabled", "disabled"]


class FlowChanged(Answer):
    flow_id: str
    name: str
    change: FlowChange
    version: int
    node_id: str = Field(description="The member that saved the change")


class FlowOwnerChanged(Answer):
    flow_id: str
    owner: str | None = Field(description="The member that runs its triggers now")


class RunChanged(Answer):
    flow_id: str
    run_id: str
    state: RunState
    trigger: TriggerKind
    node_id: str
    error: str | None = None
    duration_ms: float | None = None


class RunSkipped(Answer):
    flow_id: str
    run_id: str = Field(description="The skipped run that stands for every skipped trigger")
    reason: str
    skipped_count: int


class StepChanged(Answer):
    flow_id: str
    run_id: str
    step_id: str
    state: StepState
    attempt: int
    error: str | None = None
    duration_ms: float | None = None


class Notified(Answer):
    flow_id: str
    run_id: str
    title: str
    message: str
    severity: Literal["info", "warning", "critical"]
    insight_id: str | None


FLOW_CHANGED = Topic(
    "flow.changed", FlowChanged, "A flow was created, updated, deleted or toggled."
)
FLOW_OWNER = Topic(
    "flow.owner.changed", FlowOwnerChanged, "Another member took over a flow's triggers."
)
FLOW_RUN = Topic(
    "flow.run.changed",
    RunChanged,
    "A run was queued, started, began waiting, was interrupted or finished (with its state).",
)
FLOW_RUN_SKIPPED = Topic(
    "flow.run.skipped",
    RunSkipped,
    "A trigger came while the run mode allowed no new run; published once per skipped run "
    "record, not for every trigger it stands for.",
)
FLOW_STEP = Topic(
    "flow.step.changed", StepChanged, "A step started, retried, began waiting or finished."
)
FLOW_NOTIFIED = Topic(
    "flow.notified", Notified, "A notify step spoke (also shown as an insight card)."
)

TOPICS: tuple[Topic[Any], ...] = (
    FLOW_CHANGED,
    FLOW_OWNER,
    FLOW_RUN,
    FLOW_RUN_SKIPPED,
    FLOW_STEP,
    FLOW_NOTIFIED,
)
