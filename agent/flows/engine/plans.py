"""What a new run is made of: the flow as it stands (its target) and how the run came."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.flows.definition import FlowDefinition
from agent.flows.models import RunTrigger, StepRun
from agent.flows.records import Cursor


@dataclass(frozen=True)
class Target:
    """A flow as a run needs it: its version and definition (parsed and as JSON)."""

    flow_id: str
    version: int
    definition: FlowDefinition
    definition_json: str
    foreign: bool


@dataclass
class Plan:
    target: Target
    trigger: RunTrigger
    inputs: dict[str, Any]
    run_id: str | None = None
    cursor: Cursor | None = None
    parent_run_id: str | None = None
    rerun_of: str | None = None
    depth: int = 0
    steps: list[StepRun] = field(default_factory=list)
    position: int = 0
