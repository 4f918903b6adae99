"""Finding 9: no process of a task outlives its cancel, its timeout, its end or its agent.

Every process a task starts inherits the task's env, so a unique `TASK_MARK` value finds all
of them, wherever `setsid` or a double fork took them (they leave the process group, which
is all the runner used to signal).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from agent.tasks.containment import TaskCgroups, TaskJail
from agent.tasks.runner import ProcessRunner, RunResult, RunSpec
from tests.harness import AgentProcess, agent_processes, call, form_cluster, wait_until

BOUND = 15.0
# Starts a process in a session of its own, waits until it runs, then stays in the foreground.
ESCAPE = (
    "setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & "
    "while [ ! -s {pidfile} ]; do sleep 0.01; done"
)


def marked(mark: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose environment carries TASK_MARK=mark."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            mine = process.environ().get("TASK_MARK") == mark
            if mine and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
    return found


def escaped(mark: str, pgid: int) -> list[psutil.Process]:
    """Marked processes outside the task's process group (what killpg cannot reach)."""
    out = []
    for process in marked(mark):
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(process.pid) != pgid:
                out.append(process)
    return out


@pytest.fixture
def mark() -> Iterator[str]:
    value = secrets.token_hex(8)
    yield value
    for process in marked(value):  # never leave a test's processes behind, even on failure
        with contextlib.suppress(psutil.Error):
            process.kill()


class Sink:
    def __init__(self) -> None:
        self.data = b""

    def __call__(self, stream: str, chunk: bytes) -> None:
        self.data += chunk


async def start(
    command: str, mark: str, jail: TaskJail | None = None, **spec: Any
) -> ProcessRunner:
    runner = ProcessRunner(
        RunSpec(command, env={"TASK_MARK": mark}, **spec), Sink(), grace_s=0.5, jail=jail
    )
    await runner.start()
    return runner


async def until(check: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def until_escaped(mark: str, pgid: int) -> None:
    await until(lambda: escaped(mark, pgid), "the task's setsid process to start")


async def test_cancel_ends_a_setsid_grandchild(mark: str, tmp_path: Path) -> None:
    runner = await start(ESCAPE.format(pidfile=tmp_path / "pid") + "; sleep 300", mark)
    assert runner.pid is not None
    await until_escaped(mark, runner.pid)
    await asyncio.wait_for(runner.cancel(), BOUND)
    result = await asyncio.wait_for(runner.wait(), BOUND)
    assert result.cancelled
    assert marked(mark) == []


@pytest.mark.slow
async def test_timeout_ends_a_setsid_grandchild(mark: str, tmp_path: Path) -> None:
    command = ESCAPE.format(pidfile=tmp_path / "pid") + "; sleep 300"
    runner = await start(command, mark, timeout_s=3)
    assert runner.pid is not None
    await until_escaped(mark, runner.pid)
    result = await asyncio.wait_for(runner.wait(), BOUND)
    assert result.timed_out
    assert marked(mark) == []


@pytest.mark.parametrize(
    "command",
    [
        ESCAPE + "; exit 0",
        # A daemon: double fork, the middle process exits at once, the grandchild is orphaned.
        "(" + ESCAPE.replace(" & while", " &) ; while") + "; exit 0",
    ],
    ids=["setsid", "double-fork"],
)
async def test_normal_exit_leaves_no_descendant(mark: str, tmp_path: Path, command: str) -> None:
    pidfile = tmp_path / "pid"
    runner = await start(command.format(pidfile=pidfile), mark)
    result = await asyncio.wait_for(runner.wait(), BOUND)
    assert result.exit_code == 0
    assert pidfile.read_text().strip()  # the escape did happen
    assert marked(mark) == []


def _cgroups(tmp_tag: str) -> TaskCgroups:
    cgroups = TaskCgroups.detect(tmp_tag)
    if cgroups is None:
        pytest.skip("no writable cgroup v2 here; the subreaper alone contains tasks")
    return cgroups


async def test_a_task_that_kills_its_supervisor_is_still_ended(mark: str, tmp_path: Path) -> None:
    # Running as the agent's account, a task may kill its supervisor; its cgroup still holds
    # whatever escaped the process group, and the runner kills that.
    cgroups = _cgroups("test-" + mark)
    try:
        command = ESCAPE.format(pidfile=tmp_path / "pid") + "; kill -9 $PPID; sleep 300"
        runner = await start(command, mark, jail=TaskJail(cgroups=cgroups))
        result: RunResult = await asyncio.wait_for(runner.wait(), BOUND)
        assert result.pid == runner.pid
        assert marked(mark) == []
    finally:
        cgroups.close()
    assert not cgroups.base.exists()


async def test_leftovers_in_cgroups_are_killed_at_start(mark: str) -> None:
    cgroups = _cgroups("test-" + mark)
    run = cgroups.create()
    assert run is not None
    join = f"echo 0 > {run}/cgroup.procs && exec setsid sleep 300"
    env = {"TASK_MARK": mark, "PATH": os.environ["PATH"]}
    leftover = await asyncio.create_subprocess_exec("/bin/sh", "-c", join, env=env)
    await until(lambda: (run / "cgroup.procs").read_text().strip(), "the leftover to join")
    assert await cgroups.sweep() == 1
    assert await asyncio.wait_for(leftover.wait(), BOUND) == -signal.SIGKILL
    assert not run.exists()
    cgroups.close()


# -- the agent dies (kill -9) while its task runs -------------------------------------------


def submit(agent: AgentProcess, **body: Any) -> dict[str, Any]:
    response = call(agent, "POST", "/api/tasks", json=body)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def running(agent: AgentProcess, task_id: str) -> dict[str, Any]:
    return wait_until(
        lambda: (
            (t := call(agent, "GET", f"/api/tasks/{task_id}").json())["state"] == "running" and t
        ),
        30,
        f"task {task_id} to run",
    )


@pytest.mark.slow
def test_killed_executor_takes_its_remote_task_with_it(tmp_path: Path, mark: str) -> None:
    # Before: the command (and its setsid child) kept running on the dead node while the
    # submitter retried it elsewhere. Now it ends within about a second of the agent.
    with agent_processes([tmp_path / "submitter", tmp_path / "executor"]) as (submitter, executor):
        form_cluster([submitter, executor])
        command = ESCAPE.format(pidfile=tmp_path / "pid") + "; sleep 300"
        task = submit(
            submitter,
            command=command,
            env={"TASK_MARK": mark},
            preferred_node=executor.info["node_id"],
        )
        pgid = running(submitter, task["task_id"])["pid"]
        wait_until(lambda: escaped(mark, pgid), BOUND, "the setsid process to start")
        executor.process.send_signal(signal.SIGKILL)
        executor.process.wait(10)
        wait_until(lambda: marked(mark) == [], 5, "the dead agent's task to be gone")


def test_killed_agent_takes_its_own_task_with_it(tmp_path: Path, mark: str) -> None:
    with agent_processes([tmp_path / "solo"]) as (agent,):
        command = ESCAPE.format(pidfile=tmp_path / "pid") + "; sleep 300"
        task = submit(agent, command=command, env={"TASK_MARK": mark})
        pgid = running(agent, task["task_id"])["pid"]
        wait_until(lambda: escaped(mark, pgid), BOUND, "the setsid process to start")
        agent.process.send_signal(signal.SIGKILL)
        agent.process.wait(10)
        wait_until(lambda: marked(mark) == [], 5, "the dead agent's task to be gone")
