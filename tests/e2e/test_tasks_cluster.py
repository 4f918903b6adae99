"""Tasks across real agents: remote execution, streaming, loss and retry, restarts."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.harness import (
    AgentProcess,
    agent_process,
    call,
    form_cluster,
    wait_until,
)

FINAL = {"succeeded", "failed", "cancelled", "timed_out", "lost"}


def submit(agent: AgentProcess, **body: Any) -> dict[str, Any]:
    response = call(agent, "POST", "/api/tasks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def task_of(agent: AgentProcess, task_id: str) -> dict[str, Any]:
    return call(agent, "GET", f"/api/tasks/{task_id}").json()


def wait_state(
    agent: AgentProcess, task_id: str, states: set[str], within: float = 30
) -> dict[str, Any]:
    return wait_until(
        lambda: (t := task_of(agent, task_id))["state"] in states and t,
        within,
        f"task {task_id} to reach {states}",
    )


def test_task_runs_on_the_preferred_remote_node(calm_trio: list[AgentProcess]) -> None:
    remote = calm_trio[2].info["node_id"]
    task = submit(
        calm_trio[0], command="echo from $(hostname); echo warn >&2; exit 4", preferred_node=remote
    )
    done = wait_state(calm_trio[0], task["task_id"], FINAL)
    assert done["node_id"] == remote
    assert done["state"] == "failed"
    assert done["exit_code"] == 4
    assert done["stdout"].startswith("from ")
    assert done["stderr"] == "warn\n"
    # The record lives with the submitter, not the executor.
    assert call(calm_trio[2], "GET", f"/api/tasks/{task['task_id']}").status_code == 404


def test_remote_output_streams_in_order(calm_trio: list[AgentProcess], tmp_path: Path) -> None:
    flag = tmp_path / "go"
    command = f"echo one; while [ ! -e {flag} ]; do sleep 0.01; done; echo two"
    task = submit(calm_trio[0], command=command, preferred_node=calm_trio[1].info["node_id"])
    seen: list[str] = []
    with httpx.stream(
        "GET",
        f"{calm_trio[0].url}/api/tasks/{task['task_id']}/logs",
        headers=calm_trio[0].headers(),
        timeout=30,
    ) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event in ("stdout", "end"):
                if event == "end":
                    break
                seen.append(json.loads(line[6:])["text"])
                if seen == ["one\n"]:
                    flag.touch()
    assert "".join(seen) == "one\ntwo\n"


def test_remote_cancel_kills_the_command_there(calm_trio: list[AgentProcess]) -> None:
    task = submit(
        calm_trio[0], command="sleep 1000 & sleep 1000", preferred_node=calm_trio[1].info["node_id"]
    )
    running = wait_state(calm_trio[0], task["task_id"], {"running"})
    assert psutil.pid_exists(running["pid"])
    assert call(calm_trio[0], "DELETE", f"/api/tasks/{task['task_id']}").status_code == 200
    assert wait_state(calm_trio[0], task["task_id"], FINAL)["state"] == "cancelled"
    wait_until(lambda: not _group_alive(running["pid"]), 10, "the remote group to be gone")


def _group_alive(pgid: int) -> bool:
    import os

    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return False


def test_unplaced_tasks_spread_over_the_cluster(calm_trio: list[AgentProcess]) -> None:
    tasks = [submit(calm_trio[0], command="sleep 1") for _ in range(6)]
    nodes = {wait_state(calm_trio[0], t["task_id"], FINAL)["node_id"] for t in tasks}
    assert len(nodes) >= 2


def fill_own_slots(agent: AgentProcess) -> list[dict[str, Any]]:
    """Occupy every task slot of `agent`, so the scheduler must place elsewhere."""
    own = agent.info["node_id"]
    stats = call(agent, "GET", "/api/scheduler/stats").json()
    limit = next(n["limit"] for n in stats["nodes"] if n["node_id"] == own)
    blockers = [submit(agent, command="sleep 1000", preferred_node=own) for _ in range(limit)]
    for blocker in blockers:
        wait_state(agent, blocker["task_id"], {"running"})
    return blockers


def test_lost_task_with_retries_runs_again_on_another_node(trio: list[AgentProcess]) -> None:
    fill_own_slots(trio[0])
    task = submit(trio[0], command="sleep 4; echo finished", retries=1)
    first = wait_state(trio[0], task["task_id"], {"running"})
    assert first["node_id"] != trio[0].info["node_id"]
    victim = next(a for a in trio if a.info["node_id"] == first["node_id"])
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    done = wait_state(trio[0], task["task_id"], FINAL, within=40)
    assert done["state"] == "succeeded"
    assert done["attempts"] == 2
    assert done["node_id"] not in (first["node_id"], trio[0].info["node_id"])
    assert done["stdout"].endswith("finished\n")


def test_lost_task_without_retries_stays_lost(trio: list[AgentProcess]) -> None:
    victim = trio[1]
    task = submit(trio[0], command="sleep 1000", preferred_node=victim.info["node_id"])
    pid = wait_state(trio[0], task["task_id"], {"running"})["pid"]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    done = wait_state(trio[0], task["task_id"], FINAL, within=40)
    assert done["state"] == "lost"
    assert done["error"]
    # The killed executor's supervisor ended the command; a restart finds nothing left either.
    with agent_process(victim.home):
        wait_until(lambda: not _group_alive(pid), 15, "the leftover command to be stopped")


def test_queued_tasks_survive_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "solo"
    with agent_process(home, "--max-tasks", "1") as agent:
        blocker = submit(agent, command="sleep 1000")
        pid = wait_state(agent, blocker["task_id"], {"running"})["pid"]
        waiting = submit(agent, command="echo after restart")
        assert task_of(agent, waiting["task_id"])["state"] == "queued"
        agent.process.send_signal(signal.SIGKILL)
        agent.process.wait(10)
    with agent_process(home, "--max-tasks", "1") as agent:
        done = wait_state(agent, waiting["task_id"], FINAL)
        assert done["state"] == "succeeded"
        assert done["stdout"] == "after restart\n"
        lost = task_of(agent, blocker["task_id"])
        assert lost["state"] == "lost"
        assert "stopped" in lost["error"]
        # The command the killed agent left behind was stopped at the restart.
        assert not _group_alive(pid)


def test_node_that_refuses_remote_commands(tmp_path: Path) -> None:

    with (
        agent_process(tmp_path / "open") as open_node,
        agent_process(tmp_path / "closed", "--remote-exec", "off") as closed_node,
    ):
        form_cluster([open_node, closed_node])
        closed_id = closed_node.info["node_id"]
        wait_until(
            lambda: (
                call(open_node, "GET", f"/api/nodes/{closed_id}")
                .json()["capabilities"]
                .get("remote_exec")
                is False
            ),
            10,
            "capabilities",
        )
        response = call(
            open_node, "POST", "/api/tasks", json={"command": "true", "preferred_node": closed_id}
        )
        assert response.status_code == 422
        assert response.json()["error_code"] == "REMOTE_EXEC_DISABLED"
        # Unplaced work never goes there, even with this node's slots full.
        fill_own_slots(open_node)
        task = submit(open_node, command="true")
        assert task_of(open_node, task["task_id"])["state"] == "queued"
        # The refusing node still runs its own tasks.
        own = submit(closed_node, command="echo mine")
        assert wait_state(closed_node, own["task_id"], FINAL)["state"] == "succeeded"


def test_offline_preferred_node_keeps_the_task_queued(trio: list[AgentProcess]) -> None:
    victim = trio[2]
    victim_id = victim.info["node_id"]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    wait_until(
        lambda: call(trio[0], "GET", f"/api/nodes/{victim_id}").json()["state"] == "offline",
        15,
        "the node to be offline",
    )
    refused = call(
        trio[0],
        "POST",
        "/api/tasks",
        json={"command": "true", "preferred_node": victim_id, "wait_for_node": False},
    )
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "NODE_OFFLINE"
    task = submit(trio[0], command="echo back", preferred_node=victim_id)
    assert task_of(trio[0], task["task_id"])["state"] == "queued"
    with agent_process(victim.home):
        done = wait_state(trio[0], task["task_id"], FINAL, within=30)
    assert done["state"] == "succeeded"
    assert done["node_id"] == victim_id
