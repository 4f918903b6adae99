"""Flows' wire shapes: what the routes answer, what the OpenAPI document publishes and what the
SDK parses. A definition's own shape is in agent/flows/definition.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agent.core.wire import Answer, StrictModel
from agent.flows.definition import STEP_ID_PATTERN

MAX_RUN_INPUTS_BYTES = 64 * 1024
MAX_LOG_LINES = 200
MAX_LOG_LINE = 2000
MAX_VALUE_BYTES = 256 * 1024
RUNS_KEPT = 50
FLOW_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"

SourceFormat = Literal["yaml", "json"]
TriggerKind = Literal["cron", "interval", "event", "file", "manual", "flow", "rerun"]
RunState = Literal[
    "queued", "running", "waiting", "succeeded", "failed", "cancelled", "skipped", "interrupted"
]
StepState = Literal[
    "pending", "running", "waiting", "succeeded", "failed", "skipped", "cancelled", "interrupted"
]
FINISHED_RUN_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "skipped"})
FlowId = Annotated[str, Field(pattern=FLOW_ID_PATTERN)]


class DefinitionError(Answer):
    """One problem in a definition, where it is: `line` and `column` count from 1 (None when
    the problem has no place, e.g. a cycle through sub-flows)."""

    line: int | None
    column: int | None
    path: str = Field(description="Where in the definition, e.g. steps[2].with.url")
    message: str


class TriggerView(Answer):
    kind: TriggerKind
    summary: str = Field(description="In words, e.g. 'cron 0 2 * * * (Europe/Paris)'")
    next_at: float | None = Field(default=None, description="Next time it fires (cron, interval)")


class RunSummary(Answer):
    id: str
    state: RunState
    trigger: TriggerKind
    created_at: float
    finished_at: float | None


class Flow(Answer):
    id: str
    name: str
    description: str
    enabled: bool
    mode: str
    max: int
    source: str = Field(description="The definition as it was saved (YAML or JSON)")
    format: SourceFormat
    definition: dict[str, Any] = Field(description="The definition, parsed and completed")
    triggers: list[TriggerView]
    author: str = Field(description="The node that saved this version")
    owner: str | None = Field(
        description="The member that runs this flow's triggers now (None: no member can)"
    )
    version: int
    created_at: float
    updated_at: float
    last_run: RunSummary | None = None


class FlowList(Answer):
    flows: list[Flow]
    count: int


class FlowDeleted(Answer):
    id: str
    deleted: bool
    runs_deleted: int


class FlowSchema(Answer):
    """The JSON Schema a definition is validated against."""

    json_schema: dict[str, Any] = Field(alias="schema")


class StepRun(Answer):
    id: str
    uses: str
    state: StepState
    attempts: int
    inputs: dict[str, Any] = Field(description="Its `with`, as evaluated for the last attempt")
    outputs: dict[str, Any]
    error: str | None = None
    logs: list[str] = Field(description=f"At most {MAX_LOG_LINES} lines, the newest kept")
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    wake_at: float | None = Field(default=None, description="When a waiting step goes on")


class RunTrigger(Answer):
    kind: TriggerKind
    at: float
    payload: dict[str, Any] = Field(default_factory=dict)


class FlowRun(Answer):
    id: str
    flow_id: str
    flow_version: int
    node_id: str = Field(description="The member that runs (ran) it")
    state: RunState
    trigger: RunTrigger
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    skipped_count: int = Field(
        default=0, description="A skipped run: how many triggers it stands for"
    )
    parent_run_id: str | None = Field(
        default=None, description="The run whose flow.run step ran it"
    )
    rerun_of: str | None = None
    resumed: int = Field(default=0, description="Times it went on after an agent restart")
    steps: list[StepRun] = Field(default_factory=list)


class RunList(Answer):
    runs: list[FlowRun] = Field(description="Newest first, without step detail")
    count: int


class RunDeleted(Answer):
    id: str
    deleted: bool


class ToggleBody(StrictModel):
    enabled: bool | None = Field(default=None, description="Absent: flip the current state")


class RunBody(StrictModel):
    inputs: dict[Annotated[str, Field(max_length=64)], Any] = Field(
        default_factory=dict, max_length=50
    )


class RerunBody(StrictModel):
    from_step: Annotated[str, Field(pattern=STEP_ID_PATTERN)] | None = Field(
        default=None, description="Absent: the first step that did not succeed"
    )
