"""Topics the tasks subsystem publishes: one per task state, each carrying the task as
`GET /api/tasks/{id}` shows it (without output), and the scheduler's breaker changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, Field

from agent.core.events import Topic
from agent.core.wire import Answer
from agent.tasks.models import (
    CANCELLED,
    FAILED,
    LOST,
    QUEUED,
    RUNNING,
    SCHEDULED,
    SUCCEEDED,
    TIMED_OUT,
    BreakerSnapshot,
    BreakerState,
    TaskState,
    TaskView,
)


class BreakerChange(Answer):
    """A node's circuit breaker changed state."""

    # `from` is a Python keyword: the field has another name in Python only.
    model_config = ConfigDict(
        serialize_by_alias=True, validate_by_alias=True, validate_by_name=True
    )

    node_id: str
    from_: BreakerState = Field(alias="from", description="Its state before")
    to: BreakerState = Field(description="Its state now")
    breaker: BreakerSnapshot = Field(description="The breaker as it is now")


def _task_topic(state: TaskState, summary: str) -> Topic[TaskView]:
    return Topic(f"task.{state}", TaskView, summary)


TASK_QUEUED = _task_topic(
    QUEUED,
    "A task was submitted, or queued again (its dispatch failed, or it was lost with retries "
    "left). Comes again when a queued task's `state_detail` (why it waits) changes.",
)
TASK_SCHEDULED = _task_topic(SCHEDULED, "The scheduler placed a task on a node.")
TASK_RUNNING = _task_topic(RUNNING, "A task's command started on its node.")
TASK_SUCCEEDED = _task_topic(SUCCEEDED, "A task's command exited with status 0.")
TASK_FAILED = _task_topic(
    FAILED, "A task's command exited with another status, or could not be run."
)
TASK_CANCELLED = _task_topic(CANCELLED, "A task was cancelled.")
TASK_TIMED_OUT = _task_topic(TIMED_OUT, "A task's command ran past its `timeout_s`.")
TASK_LOST = _task_topic(
    LOST,
    "A task's node went away (or its agent stopped) while it ran; with retries left it is "
    "queued again right after.",
)

TASK_TOPICS: Mapping[str, Topic[TaskView]] = {
    QUEUED: TASK_QUEUED,
    SCHEDULED: TASK_SCHEDULED,
    RUNNING: TASK_RUNNING,
    SUCCEEDED: TASK_SUCCEEDED,
    FAILED: TASK_FAILED,
    CANCELLED: TASK_CANCELLED,
    TIMED_OUT: TASK_TIMED_OUT,
    LOST: TASK_LOST,
}

SCHEDULER_BREAKER: Topic[BreakerChange] = Topic(
    "scheduler.breaker",
    BreakerChange,
    "A node's circuit breaker opened, let a probe through (half_open) or closed.",
)

TOPICS: tuple[Topic[Any], ...] = (*TASK_TOPICS.values(), SCHEDULER_BREAKER)
