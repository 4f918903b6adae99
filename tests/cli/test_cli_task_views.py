"""The task views of `openfabric tasks`: exit statuses, endings, durations, tables."""

from __future__ import annotations

from typing import Any

import pytest

from agent.client import SchedulerStats, Task, TaskPage
from cli.commands import task_views as views
from tests.client.test_client_tasks import STATS, TASK


def task(**changes: Any) -> Task:
    return Task.model_validate({**TASK, **changes})


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"state": "succeeded", "exit_code": 0}, 0),
        ({"state": "failed", "exit_code": 3}, 3),
        ({"state": "failed", "exit_code": None, "signal": 9}, 1),
        ({"state": "failed", "exit_code": None, "error": "no such cwd"}, 1),
        ({"state": "timed_out", "signal": 15}, 124),
        ({"state": "cancelled", "signal": 15}, 130),
        ({"state": "lost", "error": "node went offline"}, 255),
    ],
)
def test_exit_status_of_a_followed_task(changes: dict[str, Any], status: int) -> None:
    assert views.exit_status(task(**changes)) == status


def test_ending_explains_only_what_the_status_does_not() -> None:
    assert views.ending(task(state="failed", exit_code=3)) is None
    assert views.ending(task(state="timed_out", timeout_s=0.2)) == (
        "task t0123456789abcdef timed out after 0.2s"
    )
    assert views.ending(task(state="lost", error="gone")) == "task t0123456789abcdef was lost: gone"
    assert views.ending(task(state="failed", signal=9)) == (
        "task t0123456789abcdef was killed by signal 9"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (0.0004, "0ms"), (0.25, "250ms"), (2.345, "2.3s"), (125, "2m 5s")],
)
def test_seconds(value: float | None, text: str) -> None:
    assert views.seconds(value) == text


def test_list_row_of_a_long_command() -> None:
    row = task(
        command="for i in 1 2 3; do\n  echo $i\ndone; " + "x" * 50,
        state="succeeded",
        node_id="abcdefghijklmnopqrstuvwx",
        exit_code=0,
        duration_s=1.5,
    )
    page = TaskPage(tasks=[row], count=1, total=1, limit=50, offset=0)
    header, line = views.tasks_table(page).splitlines()
    assert header.split() == ["ID", "STATE", "NODE", "EXIT", "DURATION", "COMMAND", "AGE"]
    assert line.startswith("t0123456789abcdef  succeeded  abcdefghijkl  0     1.5s      ")
    assert "for i in 1 2 3; do echo $i done; xxxx..." in line


def test_stats_table() -> None:
    text = views.stats_table(SchedulerStats.model_validate(STATS))
    head, nodes = text.split("\n\n")
    assert head.splitlines() == [
        "Queue depth       1",
        "In flight         2 (1 running)",
        "Dispatch latency  p50 3.2 ms, p99 40.0 ms (9 samples)",
        "Totals            failed 2, succeeded 7",
    ]
    assert nodes.splitlines()[1].split() == [
        "n1n1n1n1n1n1",
        "laptop",
        "online",
        "1/2",
        "open",
        "3",
        "12.5s",
    ]


def test_show_says_why_a_task_waits() -> None:
    waiting = dict(views.task_fields(task(state_detail="node n2 is offline")))
    assert waiting["State"] == "queued: node n2 is offline"
    assert dict(views.task_fields(task(state="succeeded")))["State"] == "succeeded"
