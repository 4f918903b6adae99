"""Stopping an agent with tasks running, here and on another member: every dispatch ends
inside the scheduler's task group, records its task lost, and leaves nothing behind."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

from tests.e2e.test_tasks_cluster import _group_alive, submit, wait_state
from tests.harness import AgentProcess, wait_until

CLEAN_EXITS = {0, -signal.SIGTERM}
STOPPED = "the agent stopped while the task was running"


def stored(home: Path, task_id: str) -> tuple[str, str | None]:
    with sqlite3.connect(home / "fabric.db") as db:
        row = db.execute("SELECT state, error FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
    return row[0], row[1]


def test_stopping_with_tasks_running_records_them_and_leaves_nothing(
    trio: list[AgentProcess],
) -> None:
    origin, executor = trio[0], trio[1]
    local = submit(origin, command="sleep 1000", preferred_node=origin.info["node_id"])
    remote = submit(origin, command="sleep 1000", preferred_node=executor.info["node_id"])
    pids = [wait_state(origin, t["task_id"], {"running"})["pid"] for t in (local, remote)]

    began = time.monotonic()
    origin.process.send_signal(signal.SIGTERM)
    code = origin.process.wait(15)
    took = time.monotonic() - began
    log = origin.log()
    assert code in CLEAN_EXITS, f"exit status {code}:\n{log}"
    for sign in ("Traceback", "was destroyed but it is pending", "never retrieved", "failed"):
        assert sign not in log, log
    assert took < 5, f"shutdown took {took:.2f}s"
    # Recorded on the way out, not only found at the next start.
    assert stored(origin.home, local["task_id"]) == ("lost", STOPPED)
    assert stored(origin.home, remote["task_id"]) == ("lost", STOPPED)
    # The executor saw its caller go and ended the command; the local one ended with us.
    for pid in pids:
        wait_until(lambda p=pid: not _group_alive(p), 10, f"process group {pid} to end")
