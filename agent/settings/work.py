"""Settings of one area: tasks and pooled storage."""

from __future__ import annotations

from dataclasses import dataclass

from agent.settings.field import setting


@dataclass(frozen=True)
class WorkSettings:
    remote_exec: bool = setting(True, "Let other members run commands on this node (on/off).")
    max_tasks: int = setting(
        0, "Tasks this node runs at once (0: one per CPU core).", minimum=0, maximum=10_000
    )
    task_user: str = setting(
        "",
        "Account that tasks (local and remote) run as (empty: the agent's own). Another "
        "account needs the agent to run as root.",
    )
    task_retention_count: int = setting(
        10_000, "Finished tasks (with their output) kept at most (0: no limit).", minimum=0
    )
    task_retention_days: float = setting(
        30.0,
        "Days a finished task and its output are kept (0: no age limit).",
        minimum=0,
        maximum=36_500,
    )
    storage_replicas: int = setting(
        2,
        "Nodes that keep each stored chunk (capped by the online members).",
        minimum=1,
        maximum=16,
    )
    storage_quota: int = setting(
        0, "Bytes of chunks this node keeps at most (0: no limit).", minimum=0
    )
    storage_heal_after: float = setting(
        600.0,
        "Seconds a holder may be offline before its chunks are copied elsewhere.",
        minimum=1,
        maximum=86400 * 7,
    )
    storage_scrub_interval: float = setting(
        3600.0, "Seconds between re-hashes of every local chunk.", minimum=1, maximum=86400 * 7
    )
    storage_gc_grace: float = setting(
        600.0,
        "Seconds an unreferenced local chunk is kept before garbage collection deletes it "
        "(restarted whenever the chunk is stored again).",
        minimum=0.1,
        maximum=86400 * 7,
    )
