"""Task requests as the API accepts them, and tasks as the API shows them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from agent.core.http import StrictModel
from agent.tasks.store import STATES, Task

VIEW_OUTPUT_BYTES = 64 * 1024
MAX_COMMAND = 100_000


class SubmitTask(StrictModel):
    command: Annotated[str, Field(min_length=1, max_length=MAX_COMMAND)]
    preferred_node: str | None = None
    wait_for_node: bool = True
    timeout_s: Annotated[float, Field(gt=0, le=7 * 86400)] | None = None
    env: Annotated[dict[str, str], Field(max_length=256)] = {}
    cwd: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    retries: Annotated[int, Field(ge=0, le=10)] = 0
    labels: Annotated[dict[str, str], Field(max_length=32)] = {}

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("command is empty")
        if "\0" in value:
            raise ValueError("command contains a NUL byte")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not key or "=" in key or "\0" in key or "\0" in item:
                raise ValueError(f"invalid environment variable {key!r}")
        return value

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: str | None) -> str | None:
        if value is not None and ("\0" in value or not value.startswith("/")):
            raise ValueError("cwd must be an absolute path")
        return value


class TaskQuery(StrictModel):
    status: str | None = None
    node: str | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0)] = 0

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is not None and value not in STATES:
            raise ValueError(f"status must be one of {', '.join(STATES)}")
        return value


class TaskDetailQuery(StrictModel):
    full: bool = False


def task_view(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "command": task.command,
        "state": task.state,
        "node_id": task.node_id,
        "pid": task.pid,
        "preferred_node": task.preferred_node,
        "wait_for_node": task.wait_for_node,
        "exit_code": task.exit_code,
        "signal": task.signal,
        "error": task.error,
        "timeout_s": task.timeout_s,
        "retries": task.retries,
        "attempts": task.attempts,
        "labels": task.labels,
        "cwd": task.cwd,
        "env": sorted(task.env),
        "submitted_at": task.submitted_at,
        "scheduled_at": task.scheduled_at,
        "started_at": task.started_at,
        "ended_at": task.ended_at,
        "duration_s": (
            round(task.ended_at - task.started_at, 6)
            if task.ended_at is not None and task.started_at is not None
            else None
        ),
        "stdout_bytes": task.stdout_bytes,
        "stderr_bytes": task.stderr_bytes,
        "truncated": task.truncated,
    }


def output_view(chunks: list[tuple[int, str, bytes]], full: bool) -> dict[str, Any]:
    """stdout/stderr as text; without `full`, the last VIEW_OUTPUT_BYTES of each."""
    out: dict[str, Any] = {}
    for stream in ("stdout", "stderr"):
        data = b"".join(c[2] for c in chunks if c[1] == stream)
        cut = not full and len(data) > VIEW_OUTPUT_BYTES
        kept = data[-VIEW_OUTPUT_BYTES:] if cut else data
        out[stream] = kept.decode("utf-8", errors="replace")
        out[f"{stream}_complete"] = not cut
    return out
