"""Where a queued task may go, as a function of what the scheduler knows about each node, and
why a task that cannot be placed waits.

- A task with a preferred node goes there only (it waits while that node cannot take it),
  until it is lost there. From then on the preference yields: like a task without one, it goes
  to the least-loaded node that can take it, nodes it was not lost on first.
- A task waiting only for a free slot is the usual state of a queue and gets no detail. Any
  other wait gets one naming each node and what keeps it from taking the task, e.g.
  "waiting: preferred node B is offline; no other eligible node (A has no free task slot)".
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.tasks.store import Task

NO_SLOT = "has no free task slot"
PROBING = "is being probed by its circuit breaker"


@dataclass(frozen=True)
class Candidate:
    node_id: str
    unready: str | None  # why it can take no task now ("is offline"); None when it can
    load: tuple[float, int]  # lower is better


def pinned_to(task: Task) -> str | None:
    """The node the task must wait for, if its preference still binds."""
    node = task.preferred_node
    return node if node is not None and node not in task.excluded_nodes else None


def ranked(task: Task, nodes: list[Candidate]) -> list[str]:
    """The nodes that may take the task now, best first."""
    ready = [n for n in nodes if n.unready is None]
    pinned = pinned_to(task)
    if pinned is not None:
        ready = [n for n in ready if n.node_id == pinned]
    else:
        ready = [n for n in ready if n.node_id not in task.excluded_nodes] or ready
    return [n.node_id for n in sorted(ready, key=lambda n: n.load)]


def waiting_reason(task: Task, nodes: list[Candidate]) -> str | None:
    """Why the task, which no node took, waits; None when it only waits for a free slot."""
    why = {n.node_id: n.unready or PROBING for n in nodes}
    pinned = pinned_to(task)
    if pinned is not None:
        reason = why.get(pinned, "is not a member")
        return None if reason == NO_SLOT else f"waiting: preferred node {pinned} {reason}"
    if all(reason == NO_SLOT for reason in why.values()):
        return None
    preferred = task.preferred_node
    others = ", ".join(f"{node} {reason}" for node, reason in why.items() if node != preferred)
    if preferred is not None:
        lead = f"waiting: preferred node {preferred} {why.get(preferred, 'is not a member')}"
        lead += "; no other eligible node"
    else:
        lead = "waiting: no eligible node"
    return f"{lead} ({others})" if others else lead
