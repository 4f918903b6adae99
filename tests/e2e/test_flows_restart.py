"""Runs across a real crash: an agent killed with SIGKILL and started again on the same home.
A run in a `wait` goes on waiting until the time it had stored; a run cut in the middle of a
command is marked interrupted and runs that step again, then succeeds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.flows.models import FINISHED_RUN_STATES
from tests.harness import AgentProcess, agent_process, call, replay_events, wait_until

WITHIN = 20.0
# Longer than an agent usually takes to start again, so the wait is seen going on after it.
PAUSE_S = 8.0

PAUSE = f"""\
name: Pause
triggers:
  - manual: {{}}
steps:
  - id: pause
    uses: wait
    with:
      duration: {PAUSE_S:g}s
  - id: after
    uses: task.run
    with: {{node: local, command: echo after}}
"""

# The first attempt records that it started and its pid, then sleeps far longer than the
# test; once the marker exists (made before the restart) the step finishes at once.
LONG = """\
name: Long
triggers:
  - manual: {{}}
steps:
  - id: work
    uses: task.run
    with:
      node: local
      command: >-
        if [ -e {marker} ]; then echo again;
        else echo $$ > {pid}; exec sleep 30; fi
  - id: after
    uses: task.run
    with: {{node: local, command: echo after}}
"""


def kill(agent: AgentProcess) -> None:
    agent.process.send_signal(signal.SIGKILL)
    agent.process.wait(10)


def save(agent: AgentProcess, text: str) -> str:
    headers = {**agent.headers(), "content-type": "application/yaml"}
    response = httpx.post(agent.url + "/api/flows", content=text, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def start(agent: AgentProcess, flow_id: str) -> str:
    response = call(agent, "POST", f"/api/flows/{flow_id}/run", json={})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def run_of(agent: AgentProcess, flow_id: str, run_id: str) -> dict[str, Any]:
    response = call(agent, "GET", f"/api/flows/{flow_id}/runs/{run_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def step_of(run: dict[str, Any], step_id: str) -> dict[str, Any] | None:
    return next((s for s in run["steps"] if s["id"] == step_id), None)


def step_in(agent: AgentProcess, flow_id: str, run_id: str, step_id: str, state: str) -> Any:
    def reached() -> dict[str, Any] | None:
        found = step_of(run_of(agent, flow_id, run_id), step_id)
        return found if found is not None and found["state"] == state else None

    return wait_until(reached, WITHIN, f"{step_id} of {run_id} to be {state}")


def ended(agent: AgentProcess, flow_id: str, run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = run_of(agent, flow_id, run_id)
        return run if run["state"] in FINISHED_RUN_STATES else None

    found: dict[str, Any] = wait_until(done, WITHIN + PAUSE_S, f"run {run_id} to end")
    return found


def run_count(agent: AgentProcess, flow_id: str) -> int:
    return int(call(agent, "GET", f"/api/flows/{flow_id}/runs").json()["count"])


def test_a_wait_goes_on_after_a_crash_until_its_stored_time(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with agent_process(home) as agent:
        flow_id = save(agent, PAUSE)
        run_id = start(agent, flow_id)
        waiting = step_in(agent, flow_id, run_id, "pause", "waiting")
        kill(agent)
    restarted_at = time.time()
    with agent_process(home) as agent:
        still = step_of(run_of(agent, flow_id, run_id), "pause")
        run = ended(agent, flow_id, run_id)
        assert run_count(agent, flow_id) == 1  # the same run went on; none was started
    assert run["state"] == "succeeded", run["error"]
    assert run["resumed"] == 1
    pause, after = step_of(run, "pause"), step_of(run, "after")
    assert pause is not None
    assert after is not None
    assert waiting["wake_at"] is not None
    assert still is not None
    if still["state"] == "waiting":  # else the start took longer than the wait (a busy host)
        assert still["wake_at"] == waiting["wake_at"]
    # It waited until the stored time, not a fresh `duration` from the restart.
    assert waiting["wake_at"] <= pause["finished_at"] < restarted_at + PAUSE_S
    assert pause["attempts"] == 1
    assert (after["state"], after["attempts"]) == ("succeeded", 1)
    assert after["outputs"]["stdout"] == "after\n"


@pytest.fixture
def sleeper_pid(tmp_path: Path) -> Iterator[Path]:
    """Where the first attempt's shell writes its pid; that sleep outlives the killed agent,
    so it is ended here."""
    path = tmp_path / "sleeper.pid"
    yield path
    if path.exists():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(path.read_text()), signal.SIGKILL)


def test_a_step_cut_by_a_crash_is_interrupted_and_runs_again(
    tmp_path: Path, sleeper_pid: Path
) -> None:
    home, marker = tmp_path / "home", tmp_path / "again"
    with agent_process(home) as agent:
        flow_id = save(agent, LONG.format(marker=marker, pid=sleeper_pid))
        run_id = start(agent, flow_id)
        wait_until(sleeper_pid.exists, WITHIN, "the command to start")
        cut = step_of(run_of(agent, flow_id, run_id), "work")
        assert cut is not None
        assert cut["state"] == "running"
        kill(agent)
    marker.touch()
    with agent_process(home) as agent:
        run = ended(agent, flow_id, run_id)
        states = [
            data["state"]
            for topic, data in replay_events(agent, "flow.run")
            if topic == "flow.run.changed" and data["run_id"] == run_id
        ]
        assert run_count(agent, flow_id) == 1
    assert run["state"] == "succeeded", run["error"]
    assert run["resumed"] == 1
    assert states[0] == "interrupted"
    assert states[-1] == "succeeded"
    work = step_of(run, "work")
    assert work is not None
    assert work["state"] == "succeeded"
    assert work["attempts"] == 2  # the cut attempt counts
    assert work["outputs"]["stdout"] == "again\n"
    assert step_of(run, "after") is not None
