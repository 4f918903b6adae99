"""Settings of one area: automations (flows)."""

from __future__ import annotations

from dataclasses import dataclass

from agent.settings.field import setting


@dataclass(frozen=True)
class FlowSettings:
    flows_runs_kept: int = setting(
        50, "Finished runs kept per flow (the oldest are deleted first).", minimum=1, maximum=1000
    )
    flows_max_active_runs: int = setting(
        64,
        "Runs this node works on at once, over all flows (more wait their turn, queued).",
        minimum=1,
        maximum=10_000,
    )
    flows_http_timeout: float = setting(
        30.0,
        "Seconds an http.request step waits for an answer when the step sets no timeout.",
        minimum=0.1,
        maximum=3600,
    )
