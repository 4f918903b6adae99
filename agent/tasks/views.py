"""Stored tasks and the scheduler as the API shows them (the models of `models`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.tasks.models import (
    RUNNING,
    SCHEDULED,
    VIEW_OUTPUT_BYTES,
    BreakerSnapshot,
    DispatchLatency,
    SchedulerNode,
    SchedulerStats,
    TaskDetail,
    TaskView,
)
from agent.tasks.store import Task

if TYPE_CHECKING:  # the scheduler publishes through transitions, which use the views
    from agent.core.cluster import ClusterView
    from agent.tasks.scheduler import Scheduler


def task_view(task: Task) -> TaskView:
    """The task as it is now; `env` shows the variable names only (values may be secrets)."""
    ended, started = task.ended_at, task.started_at
    return TaskView(
        task_id=task.task_id,
        command=task.command,
        state=task.state,
        state_detail=task.state_detail,
        node_id=task.node_id,
        pid=task.pid,
        preferred_node=task.preferred_node,
        wait_for_node=task.wait_for_node,
        exit_code=task.exit_code,
        signal=task.signal,
        error=task.error,
        timeout_s=task.timeout_s,
        retries=task.retries,
        attempts=task.attempts,
        labels=dict(task.labels),
        cwd=task.cwd,
        env=sorted(task.env),
        submitted_at=task.submitted_at,
        scheduled_at=task.scheduled_at,
        started_at=started,
        ended_at=ended,
        duration_s=round(ended - started, 6) if ended is not None and started is not None else None,
        stdout_bytes=task.stdout_bytes,
        stderr_bytes=task.stderr_bytes,
        truncated=task.truncated,
    )


def task_detail(view: TaskView, chunks: list[tuple[int, str, bytes]], full: bool) -> TaskDetail:
    """`view` with its output as text; without `full`, the last VIEW_OUTPUT_BYTES of each
    stream."""
    text: dict[str, str] = {}
    complete: dict[str, bool] = {}
    for stream in ("stdout", "stderr"):
        data = b"".join(c[2] for c in chunks if c[1] == stream)
        cut = not full and len(data) > VIEW_OUTPUT_BYTES
        kept = data[-VIEW_OUTPUT_BYTES:] if cut else data
        text[stream] = kept.decode("utf-8", errors="replace")
        complete[stream] = not cut
    return TaskDetail(
        **dict(view),
        stdout=text["stdout"],
        stderr=text["stderr"],
        stdout_complete=complete["stdout"],
        stderr_complete=complete["stderr"],
    )


def scheduler_stats(scheduler: Scheduler, cluster: ClusterView) -> SchedulerStats:
    latencies = sorted(scheduler.stats.latencies)
    nodes = [
        SchedulerNode(
            node_id=member.node_id,
            name=member.name,
            state=cluster.state_of(member.node_id),
            running=scheduler.running_on(member.node_id),
            limit=scheduler.limit_of(member.node_id),
            breaker=BreakerSnapshot(**scheduler.breakers.get(member.node_id).snapshot()),
        )
        for member in cluster.members()
    ]
    # A dispatch stays listed until its outcome is recorded and published; one whose task has
    # already ended (or gone back to the queue) is not in flight any more.
    inflight = [d for d in scheduler.inflight.values() if d.task.state in (SCHEDULED, RUNNING)]
    return SchedulerStats(
        queue_depth=len(scheduler.queue),
        in_flight=len(inflight),
        running=sum(1 for d in inflight if d.task.state == RUNNING),
        nodes=nodes,
        dispatch_latency_ms=DispatchLatency(
            p50=_percentile(latencies, 0.50),
            p99=_percentile(latencies, 0.99),
            samples=len(latencies),
        ),
        totals=dict(scheduler.stats.outcomes),
    )


def _percentile(values: list[float], q: float) -> float | None:
    """The q-quantile of sorted seconds, in milliseconds."""
    if not values:
        return None
    index = min(len(values) - 1, round(q * (len(values) - 1)))
    return round(values[index] * 1000, 3)
