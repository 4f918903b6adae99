"""What a trigger hands to the engine, and what the engine arms triggers with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.flows.definition import FlowDefinition
from agent.flows.models import TriggerKind

MAX_PAYLOAD_BYTES = 64 * 1024
TriggerKey = tuple[str, int]


@dataclass(frozen=True)
class Firing:
    """One trigger firing. `slot` names it: cron -> the scheduled time (ISO 8601 UTC);
    interval -> the slot number since the epoch; event -> `topic#seq`; file ->
    `path#change#stamp`. Cron and interval slots are the same on every member, so the run id
    derived from (flow_id, trigger_index, slot) is unique in the cluster. `at` is the
    scheduled time for cron and interval, the clock's time for the others."""

    flow_id: str
    trigger_index: int
    kind: TriggerKind
    slot: str
    at: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class ArmedFlow:
    """A flow to arm. `foreign`: saved on another member, so its `file: {path}` triggers
    (this node's own folders) are not armed."""

    flow_id: str
    version: int
    definition: FlowDefinition
    foreign: bool = False


def bounded_data(data: Any) -> Any:
    """`data` itself when its JSON fits the payload bound, else a note saying what was cut."""
    size = len(json.dumps(data, separators=(",", ":"), default=str).encode())
    if size <= MAX_PAYLOAD_BYTES - 1024:
        return data
    return {"truncated": True, "bytes": size, "note": f"data over {MAX_PAYLOAD_BYTES} bytes"}
