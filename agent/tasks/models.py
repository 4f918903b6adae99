"""Task requests as the API accepts them, and tasks and the scheduler as the API shows them.

Wire models only: this module imports nothing of the server, so the SDK uses these very
classes. Turning stored records into them is `views`' job.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, field_validator

from agent.core.wire import Answer, StrictModel

QUEUED: Final = "queued"
SCHEDULED: Final = "scheduled"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
TIMED_OUT: Final = "timed_out"
LOST: Final = "lost"
ACTIVE = (QUEUED, SCHEDULED, RUNNING)
FINAL = (SUCCEEDED, FAILED, CANCELLED, TIMED_OUT, LOST)
STATES = ACTIVE + FINAL

TaskState = Literal[
    "queued", "scheduled", "running", "succeeded", "failed", "cancelled", "timed_out", "lost"
]
BreakerState = Literal["closed", "open", "half_open"]
NodeState = Literal["online", "suspect", "offline"]

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


class TaskView(Answer):
    """A task as the agent shows it (and as every `task.<state>` event carries it)."""

    task_id: str
    command: str
    state: TaskState
    state_detail: str | None = Field(
        default=None,
        description="Why the task is in its state where the state alone does not say (why a "
        "queued task waits); None otherwise",
    )
    node_id: str | None = Field(description="The node it was placed on; None until placed")
    pid: int | None = Field(description="Its process (group) id on that node, once started")
    preferred_node: str | None = Field(description="The node it was asked to run on, if any")
    wait_for_node: bool = Field(description="Whether it waits while its preferred node is away")
    exit_code: int | None = Field(
        description="None while it runs, or when it ended by a signal or never ran"
    )
    signal: int | None = Field(description="The signal that ended it, if one did")
    error: str | None = Field(description="Why it failed, was lost or was queued again")
    timeout_s: float | None = Field(description="Seconds it may run; None: no limit")
    retries: int = Field(description="How often it may run again after being lost")
    attempts: int = Field(description="How often it was started")
    labels: dict[str, str]
    cwd: str | None
    env: list[str] = Field(description="The names of its environment variables (not values)")
    submitted_at: float = Field(description="Unix time, as every `_at` field")
    scheduled_at: float | None
    started_at: float | None
    ended_at: float | None
    duration_s: float | None = Field(description="From start to end; None until it ended")
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool = Field(description="Whether the agent kept only part of its output")


class TaskDetail(TaskView):
    """A task with its output: the last 64 KiB of each stream, or all of it when asked."""

    stdout: str
    stderr: str
    stdout_complete: bool = Field(description="False when `stdout` is only its last 64 KiB")
    stderr_complete: bool = Field(description="False when `stderr` is only its last 64 KiB")


class TaskLogText(Answer):
    """The data of a `stdout` or `stderr` event of a task's log stream (whose `end` event
    carries the final `TaskView`)."""

    text: str = Field(description="What the command wrote, decoded as UTF-8")


class TaskPage(Answer):
    tasks: list[TaskView] = Field(description="Newest first")
    count: int = Field(description="Tasks on this page")
    total: int = Field(description="Tasks matching the filters, on every page")
    limit: int
    offset: int


class BreakerSnapshot(Answer):
    """A node's circuit breaker: whether the scheduler dispatches to it, and when it tries
    again."""

    node_id: str
    state: BreakerState
    consecutive_failures: int
    opened_count: int = Field(description="How often it opened since the agent started")
    open_for_s: float = Field(description="Its current open period (doubles on each re-open)")
    next_retry_at: float | None = Field(description="Unix time of the next probe; None unless open")
    retry_in_s: float | None = Field(description="Seconds to the next probe; None unless open")
    last_failure_at: float | None = Field(description="Unix time")
    probe_in_flight: bool


class SchedulerNode(Answer):
    node_id: str
    name: str
    state: NodeState
    running: int = Field(description="Task slots taken on the node")
    limit: int = Field(description="Task slots it has")
    breaker: BreakerSnapshot


class DispatchLatency(Answer):
    """From placement to the command's start, over the latest dispatches."""

    p50: float | None = Field(description="Milliseconds; None before the first dispatch")
    p99: float | None = Field(description="Milliseconds; None before the first dispatch")
    samples: int


class SchedulerStats(Answer):
    queue_depth: int
    in_flight: int = Field(description="Tasks placed and not ended (scheduled or running)")
    running: int
    nodes: list[SchedulerNode]
    dispatch_latency_ms: DispatchLatency
    totals: dict[TaskState, int] = Field(
        description="Tasks that ended in each final state since the agent started"
    )
