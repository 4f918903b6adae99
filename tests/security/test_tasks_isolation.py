"""Finding 10: a task, local or remote, cannot read the node's secrets through the agent.

Before, a task inherited the agent's environment (OPENFABRIC_HOME among it) and its cwd, and
ran as the agent's account: a remote member printed hashes of the executor's node.key and
local.token. Now a task starts with a clean environment, outside the agent's home, and can
run as a separate, unprivileged `task_user`.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.settings import SettingsError
from agent.tasks.account import resolve_account, task_environment
from tests.harness import (
    AgentProcess,
    agent_process,
    agent_processes,
    call,
    form_cluster,
    wait_until,
)

FINAL = {"succeeded", "failed", "cancelled", "timed_out", "lost"}
# A task that reports what it can see of the agent.
SNOOP = 'env; echo "cwd=$(pwd)"'


def run_task(agent: AgentProcess, **body: Any) -> dict[str, Any]:
    response = call(agent, "POST", "/api/tasks", json=body)
    assert response.status_code == 201, response.text
    task_id = response.json()["task_id"]
    return wait_until(
        lambda: (t := call(agent, "GET", f"/api/tasks/{task_id}").json())["state"] in FINAL and t,
        30,
        f"task {task_id} to finish",
    )


def assert_sees_nothing_of(home: Path, done: dict[str, Any]) -> None:
    out = done["stdout"]
    assert done["state"] == "succeeded", done
    assert "OPENFABRIC_" not in out
    assert str(home) not in out
    assert str(home.resolve()) not in out
    assert "cwd=" in out


@pytest.mark.slow
def test_remote_task_sees_nothing_of_the_executor(tmp_path: Path) -> None:
    with agent_processes([tmp_path / "submitter", tmp_path / "executor"]) as (submitter, executor):
        form_cluster([submitter, executor])
        done = run_task(submitter, command=SNOOP, preferred_node=executor.info["node_id"])
        assert done["node_id"] == executor.info["node_id"]
        assert_sees_nothing_of(executor.home, done)
        assert_sees_nothing_of(submitter.home, done)
        # The task's own values still arrive, and a task is told who it runs as.
        own = run_task(submitter, command='echo "$GREETING $USER"', env={"GREETING": "hi"},
                       preferred_node=executor.info["node_id"])  # fmt: skip
        assert own["stdout"] == f"hi {pwd.getpwuid(os.geteuid()).pw_name}\n"


def test_local_task_sees_nothing_of_its_agent(tmp_path: Path) -> None:
    with agent_process(tmp_path / "solo") as agent:
        assert_sees_nothing_of(agent.home, run_task(agent, command=SNOOP))


def _unprivileged() -> str:
    if os.geteuid() != 0:
        pytest.skip("switching tasks to another account needs the agent to run as root")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account on this machine")
    return "nobody"


def test_task_user_cannot_read_the_agents_secrets(tmp_path: Path) -> None:
    user = _unprivileged()
    home = tmp_path / "solo"
    with agent_process(home, "--task-user", user) as agent:
        token, key = home / "local.token", home / "identity" / "node.key"
        assert token.exists()
        assert key.exists()
        done = run_task(agent, command=f"id -u; cat {token}; cat {key}")
        assert done["state"] == "failed"
        assert done["stdout"] == f"{pwd.getpwnam(user).pw_uid}\n"
        assert "Permission denied" in done["stderr"]
        assert agent.token not in done["stdout"] + done["stderr"]
        # Its supervisor keeps the agent's account: the task can neither kill nor trace it.
        refused = run_task(agent, command="kill -9 $PPID")
        assert refused["state"] == "failed"
        assert refused["error"] is None
        snoop = run_task(agent, command=SNOOP)
        assert_sees_nothing_of(home, snoop)
        assert f"USER={user}\n" in snoop["stdout"]


def test_unknown_task_user_stops_the_agent_from_starting(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="task_user 'no-such-account-x' is not an account"),
        agent_process(tmp_path / "solo", "--task-user", "no-such-account-x"),
    ):
        pass


def test_task_user_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    other = next((p for p in pwd.getpwall() if p.pw_uid != os.geteuid()), None)
    if other is None:
        pytest.skip("this machine has a single account")
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    with pytest.raises(SettingsError, match="needs the agent to run as root"):
        resolve_account(other.pw_name)


def test_base_environment_keeps_nothing_of_the_agent(tmp_path: Path) -> None:
    agent_home = tmp_path / "home"
    inherited = {
        "OPENFABRIC_HOME": str(agent_home),
        "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        "PATH": f"{agent_home}/bin:/usr/bin",
        "LANG": "C.UTF-8",
        "LD_PRELOAD": "/tmp/evil.so",
    }
    env = task_environment(resolve_account(""), {"MINE": "1"}, agent_home, inherited)
    assert env["PATH"] == "/usr/bin"
    assert env["LANG"] == "C.UTF-8"
    assert env["MINE"] == "1"
    assert not {"OPENFABRIC_HOME", "AWS_SECRET_ACCESS_KEY", "LD_PRELOAD"} & set(env)
    assert shutil.which("sh", path=env["PATH"])
