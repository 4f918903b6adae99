"""How tasks and the scheduler look in a terminal, and what a finished task exits with."""

from __future__ import annotations

import time
from typing import Any

from agent.client import SchedulerStats, Task, TaskDetail, TaskPage
from cli import output

# A followed task's exit status when it has no exit code of its own (as `timeout` and a
# shell do it: 124 timed out, 130 interrupted).
EXIT_TIMED_OUT = 124
EXIT_CANCELLED = 130
EXIT_LOST = 255
EXIT_FAILED = 1
COMMAND_WIDTH = 40


def exit_status(task: Task) -> int:
    """The exit status `tasks run --follow` ends with: the command's own when it has one."""
    state = task.state
    if state == "timed_out":
        return EXIT_TIMED_OUT
    if state == "cancelled":
        return EXIT_CANCELLED
    if state == "lost":
        return EXIT_LOST
    code = task.exit_code
    if state == "succeeded":
        return code or 0
    return code if code is not None else EXIT_FAILED


def ending(task: Task) -> str | None:
    """Why a task ended without an exit code of its own, in a few words; None when it has one."""
    task_id, error = task.task_id, task.error
    state = task.state
    if state in ("succeeded", "failed") and task.exit_code is not None:
        return None
    if state == "timed_out":
        limit = task.timeout_s
        return f"task {task_id} timed out" + (f" after {limit:g}s" if limit else "")
    if state == "cancelled":
        return f"task {task_id} was cancelled"
    if state == "lost":
        return f"task {task_id} was lost" + (f": {error}" if error else "")
    if task.signal is not None:
        return f"task {task_id} was killed by signal {task.signal}"
    return f"task {task_id} {state}" + (f": {error}" if error else "")


def seconds(value: float | None) -> str:
    """Task durations: mostly short, so below a minute they keep their fraction."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.1f}s"
    return output.duration(value)


def elapsed(task: Task, now: float | None = None) -> str:
    """How long it ran, or has been running so far."""
    if task.duration_s is not None:
        return seconds(task.duration_s)
    if task.started_at is not None and task.ended_at is None:
        return seconds(max(0.0, (time.time() if now is None else now) - task.started_at))
    return "-"


def exit_cell(task: Task) -> str:
    if task.exit_code is not None:
        return str(task.exit_code)
    return f"sig {task.signal}" if task.signal is not None else "-"


def one_line(command: str, width: int = COMMAND_WIDTH) -> str:
    flat = " ".join(command.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def node_cell(node_id: str | None) -> str:
    return output.short_id(node_id) if node_id else "-"


def tasks_table(page: TaskPage) -> str:
    if not page.tasks:
        return "no tasks"
    rows = [
        [
            task.task_id,
            task.state,
            node_cell(task.node_id),
            exit_cell(task),
            elapsed(task),
            one_line(task.command),
            output.ago(task.submitted_at),
        ]
        for task in page.tasks
    ]
    headers = ["ID", "STATE", "NODE", "EXIT", "DURATION", "COMMAND", "AGE"]
    return output.table(headers, rows)


def _pairs_of(mapping: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in mapping.items()) or "-"


def _when(timestamp: float | None) -> str:
    return output.ago(timestamp) if timestamp else "-"


def task_fields(task: Task) -> list[tuple[str, Any]]:
    sizes = f"{output.size(task.stdout_bytes)} stdout, {output.size(task.stderr_bytes)}"
    sizes += " stderr" + (" (truncated by the agent)" if task.truncated else "")
    items: list[tuple[str, Any]] = [
        ("ID", task.task_id),
        ("Command", task.command),
        ("State", f"{task.state}: {task.state_detail}" if task.state_detail else task.state),
        ("Node", task.node_id or "-"),
        ("Preferred node", task.preferred_node or "-"),
        ("PID", task.pid or "-"),
        ("Exit code", exit_cell(task)),
        ("Error", task.error or "-"),
        ("Timeout", seconds(task.timeout_s)),
        ("Attempts", f"{task.attempts} (retries allowed: {task.retries})"),
        ("Labels", _pairs_of(task.labels)),
        ("Working dir", task.cwd or "-"),
        ("Env", ", ".join(task.env) or "-"),
        ("Submitted", _when(task.submitted_at)),
        ("Started", _when(task.started_at)),
        ("Ended", _when(task.ended_at)),
        ("Duration", elapsed(task)),
        ("Output", sizes),
    ]
    return items


def task_table(task: TaskDetail) -> str:
    parts = [output.pairs(task_fields(task))]
    streams = [
        ("stdout", task.stdout, task.stdout_complete),
        ("stderr", task.stderr, task.stderr_complete),
    ]
    for stream, text, complete in streams:
        if text:
            title = stream if complete else f"{stream} (the last 64 KiB; --full shows all)"
            parts.append(f"--- {title} ---\n" + text.removesuffix("\n"))
    return "\n\n".join(parts)


def submitted_line(task: Task) -> str:
    return f"submitted {task.task_id} ({task.state})"


def cancelled_line(task: Task) -> str:
    if task.state == "cancelled":
        return f"cancelled {task.task_id}"
    return f"cancelling {task.task_id} (it was {task.state})"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def stats_table(stats: SchedulerStats) -> str:
    latency = stats.dispatch_latency_ms
    totals = ", ".join(f"{outcome} {n}" for outcome, n in sorted(stats.totals.items()))
    head = output.pairs(
        [
            ("Queue depth", stats.queue_depth),
            ("In flight", f"{stats.in_flight} ({stats.running} running)"),
            (
                "Dispatch latency",
                f"p50 {_ms(latency.p50)}, p99 {_ms(latency.p99)} ({latency.samples} samples)",
            ),
            ("Totals", totals or "-"),
        ]
    )
    rows = []
    for node in stats.nodes:
        breaker = node.breaker
        retry = breaker.retry_in_s
        rows.append(
            [
                output.short_id(node.node_id),
                node.name,
                node.state,
                f"{node.running}/{node.limit}",
                breaker.state,
                breaker.consecutive_failures,
                "-" if retry is None else seconds(retry),
            ]
        )
    headers = ["NODE", "NAME", "STATE", "RUNNING/LIMIT", "BREAKER", "FAILURES", "RETRY IN"]
    return head + "\n\n" + output.table(headers, rows)
