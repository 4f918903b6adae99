"""Run modes, decided when a trigger comes (under the flow's admission lock):

- single: a run is active -> skipped.
- restart: the active runs are cancelled, the new one starts.
- queued: a run is active -> the new one waits its turn (state queued), at most `max`
  waiting, then skipped.
- parallel: at most `max` active, then skipped.

"Active" is every unfinished run of the flow on this node: queued, running, waiting or
interrupted (an interrupted run resumes after a restart).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.flows.definition import FlowDefinition
from agent.flows.models import FlowRun


@dataclass(frozen=True)
class Decision:
    action: Literal["start", "skip", "restart"]
    reason: str = ""
    blocked_by: str | None = None


def decide(definition: FlowDefinition, active: list[FlowRun]) -> Decision:
    if not active:
        return Decision("start")
    oldest = active[0].id
    mode, limit = definition.mode, definition.max
    if mode == "single":
        return Decision("skip", "a run is active (mode single)", oldest)
    if mode == "restart":
        return Decision("restart")
    if mode == "queued":
        if len(active) - 1 < limit:
            return Decision("start")
        return Decision("skip", f"{limit} runs are waiting already (mode queued)", oldest)
    if len(active) < limit:
        return Decision("start")
    return Decision("skip", f"{limit} runs are active (mode parallel)", oldest)
