"""What a trigger hands to the engine, and what the engine arms triggers with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.flows.definition import FlowDefinition
from agent.flows.models import TriggerKind

MAX_PAYLOAD_BYTES = 64 * 1024
TriggerKey = tuple[str, int]
# Topics every member publishes, each its own view (liveness, insights, discoveries, streams,
# and what arrives by replication: a flow or a fact merged here is announced here too). The
# owner's own copy is the one its triggers fire on; every other topic is published only on
# the member where it happened, and is relayed to the owner from there.
EVERY_MEMBER_TOPICS = (
    "node",
    "cluster",
    "pulse",
    "discovery",
    "stream",
    "flow.changed",
    "memory",
    "storage.degraded",
    "storage.healthy",
    "storage.synced",
)


def relayed(topic: str) -> bool:
    """Whether an event of `topic` (or an event trigger on it: no topic below one of these
    prefixes is anything but the same kind) is published only where it happened, so that the
    member it happened on relays it to the flow's owner."""
    return not any(topic == t or topic.startswith(t + ".") for t in EVERY_MEMBER_TOPICS)


@dataclass(frozen=True)
class Firing:
    """One trigger firing. `slot` names it: cron -> the scheduled time (ISO 8601 UTC);
    interval -> the slot number since the epoch; event -> `topic#seq`; file ->
    `path#change#stamp`. Cron and interval slots are the same on every member, so the run id
    derived from (flow_id, trigger_index, slot) is unique in the cluster. `at` is the
    scheduled time for cron and interval, the clock's time for the others. `relay`: an event
    on a member that does not own the flow, for its owner to fire."""

    flow_id: str
    trigger_index: int
    kind: TriggerKind
    slot: str
    at: float
    payload: dict[str, Any]
    relay: bool = False


@dataclass(frozen=True)
class ArmedFlow:
    """A flow to arm. `foreign`: saved on another member, so its `file: {path}` triggers
    (this node's own folders) are not armed. `relay`: another member owns it, so only its
    event triggers on `relayed` topics are armed here, and their firings (`Firing.relay`) go
    to the owner."""

    flow_id: str
    version: int
    definition: FlowDefinition
    foreign: bool = False
    relay: bool = False


def bounded_data(data: Any) -> Any:
    """`data` itself when its JSON fits the payload bound, else a note saying what was cut."""
    size = len(json.dumps(data, separators=(",", ":"), default=str).encode())
    if size <= MAX_PAYLOAD_BYTES - 1024:
        return data
    return {"truncated": True, "bytes": size, "note": f"data over {MAX_PAYLOAD_BYTES} bytes"}
