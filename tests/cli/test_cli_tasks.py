"""`tasks run|list|show|logs|cancel` and `scheduler stats` against one real agent.

The agent is shared by the module: every test works with tasks it submits itself, so the
others' tasks never matter. Waits poll the API with a bound; nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import (
    OPENFABRIC_SCRIPT,
    invoke_agent,
    process_env,
    run_process,
)
from tests.harness import REPO, AgentProcess, agent_process, call, wait_until

WAIT = 20
pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("tasks") / "agent-home") as started:
        yield started


def task_of(agent: AgentProcess, task_id: str) -> dict[str, Any]:
    response = call(agent, "GET", f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_state(agent: AgentProcess, task_id: str, *states: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: (task := task_of(agent, task_id))["state"] in states and task,
        WAIT,
        f"task {task_id} to be {' or '.join(states)}",
    )
    return found


def submit(agent: AgentProcess, command: str, **fields: Any) -> str:
    response = call(agent, "POST", "/api/tasks", json={"command": command, **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["task_id"])


def run_cli(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `openfabric` as a real process, pointed at the agent with --url."""
    return run_process(["--url", agent.url, *args], process_env(agent.home, agent.token))


# --- run --follow (real processes) -------------------------------------------------------


def test_follow_prints_the_output_and_exits_with_its_status(agent: AgentProcess) -> None:
    done = run_cli(agent, "tasks", "run", "echo hi; exit 3", "--follow")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "hi\n"
    assert done.stderr == ""


def test_follow_keeps_stdout_and_stderr_apart(agent: AgentProcess) -> None:
    done = run_cli(agent, "tasks", "run", "echo out; echo err >&2; echo more", "-f")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "out\nmore\n"
    assert done.stderr == "err\n"


def test_follow_of_a_timed_out_task_exits_124(agent: AgentProcess) -> None:
    done = run_cli(agent, "tasks", "run", "sleep 5", "--timeout", "0.2", "--follow")
    assert done.returncode == 124
    assert done.stdout == ""
    assert re.fullmatch(r"openfabric: task t\w+ timed out after 0\.2s\n", done.stderr)


def test_follow_passes_env_cwd_and_labels(agent: AgentProcess, tmp_path: Path) -> None:
    done = run_cli(
        agent,
        "tasks",
        "run",
        'echo "$GREETING"; pwd',
        "--env",
        "GREETING=a=b c",
        "--cwd",
        str(tmp_path),
        "--label",
        "team=infra",
        "--node",
        agent.info["node_id"][:8],
        "-f",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    text = "".join(e["text"] for e in events if e["stream"] == "stdout")
    assert text == f"a=b c\n{tmp_path}\n"
    end = events[-1]
    assert end["stream"] == "end"
    task = end["task"]
    assert task["labels"] == {"team": "infra"}
    assert task["env"] == ["GREETING"]
    assert task["node_id"] == task["preferred_node"] == agent.info["node_id"]


def _follow_process(agent: AgentProcess, command: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(OPENFABRIC_SCRIPT), "--url", agent.url, "tasks", "run", command, "--follow"],
        cwd=REPO,
        env=process_env(agent.home, agent.token),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # The test runner may ignore SIGINT; the CLI must see it as a terminal would send it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.skipif(not OPENFABRIC_SCRIPT.exists(), reason="the openfabric script is missing")
def test_ctrl_c_stops_following_but_not_the_task(agent: AgentProcess) -> None:
    process = _follow_process(agent, "echo started; sleep 100")
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], WAIT)
        assert ready, "no output within the timeout"
        assert process.stdout.readline() == "started\n"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()
    assert process.returncode == 130
    match = re.fullmatch(
        r"openfabric: stopped following task (t\w+); it goes on "
        r"\(stop it with 'openfabric tasks cancel \1'\)\n",
        err,
    )
    assert match is not None, err
    task_id = match.group(1)
    assert task_of(agent, task_id)["state"] == "running"
    assert invoke_agent(agent, "tasks", "cancel", task_id).exit_code == 0
    wait_for_state(agent, task_id, "cancelled")


# --- run, show, list, logs ---------------------------------------------------------------


def test_run_prints_an_id_that_show_finds(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "tasks", "run", "echo visible; echo hidden >&2")
    assert result.exit_code == 0, result.stderr
    match = re.fullmatch(r"submitted (t[0-9a-f]+) \(queued\)\n", result.stdout)
    assert match is not None, result.stdout
    task_id = match.group(1)
    wait_for_state(agent, task_id, "succeeded")

    as_json = invoke_agent(agent, "tasks", "show", task_id, "--format", "json")
    assert as_json.exit_code == 0, as_json.stderr
    detail = json.loads(as_json.stdout)
    assert (detail["task_id"], detail["state"], detail["exit_code"]) == (task_id, "succeeded", 0)
    assert (detail["stdout"], detail["stderr"]) == ("visible\n", "hidden\n")
    assert detail == task_of(agent, task_id), "json is exactly what the agent answered"

    table = invoke_agent(agent, "tasks", "show", task_id, "--full")
    assert re.search(rf"^ID\s+{task_id}$", table.stdout, re.M)
    assert re.search(r"^State\s+succeeded$", table.stdout, re.M)
    assert "--- stdout ---\nvisible\n\n--- stderr ---\nhidden\n" in table.stdout


def test_run_quiet_prints_only_the_id_and_json_the_task(agent: AgentProcess) -> None:
    quiet = invoke_agent(agent, "tasks", "run", "true", "-q")
    assert re.fullmatch(r"t[0-9a-f]+\n", quiet.stdout)
    as_json = invoke_agent(agent, "tasks", "run", "true", "--retries", "2", "--format", "json")
    task = json.loads(as_json.stdout)
    assert (task["state"], task["retries"], task["command"]) == ("queued", 2, "true")


def test_list_filters_by_state(agent: AgentProcess) -> None:
    good, bad = submit(agent, "echo ok"), submit(agent, "exit 7")
    wait_for_state(agent, good, "succeeded")
    wait_for_state(agent, bad, "failed")

    result = invoke_agent(agent, "tasks", "list", "--status", "succeeded", "--format", "json")
    assert result.exit_code == 0, result.stderr
    page = json.loads(result.stdout)
    ids = [t["task_id"] for t in page["tasks"]]
    assert good in ids
    assert bad not in ids
    assert {t["state"] for t in page["tasks"]} == {"succeeded"}
    assert page["count"] == len(ids)

    table = invoke_agent(agent, "tasks", "list", "--limit", "500").stdout.splitlines()
    assert table[0].split() == ["ID", "STATE", "NODE", "EXIT", "DURATION", "COMMAND", "AGE"]
    (row,) = [line for line in table if line.startswith(bad)]
    assert row.split()[1:4] == ["failed", agent.info["node_id"][:12], "7"]


def test_list_says_when_there_are_more(agent: AgentProcess) -> None:
    for _ in range(2):
        submit(agent, "true")
    result = invoke_agent(agent, "tasks", "list", "--limit", "1")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2
    assert re.fullmatch(r"showing 1 of \d+ tasks \(see --limit and --offset\)\n", result.stderr)


def test_logs_prints_the_stored_output(agent: AgentProcess) -> None:
    task_id = submit(agent, "echo one; echo two >&2; printf three")
    wait_for_state(agent, task_id, "succeeded")
    result = invoke_agent(agent, "tasks", "logs", task_id)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "one\nthree"
    assert result.stderr == "two\n"


def test_logs_follow_until_the_end(agent: AgentProcess) -> None:
    task_id = submit(agent, "echo early; sleep 0.3; echo late >&2")
    result = invoke_agent(agent, "tasks", "logs", task_id, "-f")
    assert result.exit_code == 0, result.stderr
    assert (result.stdout, result.stderr) == ("early\n", "late\n")

    as_json = invoke_agent(agent, "tasks", "logs", task_id, "--follow", "--format", "json")
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(e["stream"], e.get("text")) for e in events] == [
        ("stdout", "early\n"),
        ("stderr", "late\n"),
        ("end", None),
    ]
    assert [e.get("seq") for e in events[:2]] == [0, 1]
    assert events[-1]["task"]["state"] == "succeeded"
    output = {"stdout", "stderr", "stdout_complete", "stderr_complete"}
    shown = {k: v for k, v in task_of(agent, task_id).items() if k not in output}
    assert events[-1]["task"] == shown, "the end event's task is exactly what the agent sent"


# --- cancel and errors -------------------------------------------------------------------


def test_cancel_a_running_task_then_again(agent: AgentProcess) -> None:
    task_id = submit(agent, "sleep 100")
    wait_for_state(agent, task_id, "running")
    result = invoke_agent(agent, "tasks", "cancel", task_id)
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(
        rf"(cancelling {task_id} \(it was running\)|cancelled {task_id})\n", result.stdout
    )
    assert wait_for_state(agent, task_id, "cancelled", "failed")["state"] == "cancelled"

    again = invoke_agent(agent, "tasks", "cancel", task_id)
    assert again.exit_code == 1
    assert again.stdout == ""
    assert again.stderr == (
        f"openfabric: task {task_id} already ended (cancelled) (TASK_FINISHED)\n"
    )


def test_cancel_a_queued_task(agent: AgentProcess) -> None:
    # Every slot of the only node busy: the next task stays queued.
    limit = call(agent, "GET", "/api/scheduler/stats").json()["nodes"][0]["limit"]
    busy = [submit(agent, "sleep 100") for _ in range(limit)]
    for task_id in busy:
        wait_for_state(agent, task_id, "running")
    queued = submit(agent, "true")
    try:
        result = invoke_agent(agent, "tasks", "cancel", queued)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"cancelled {queued}\n"
        assert task_of(agent, queued)["state"] == "cancelled"
    finally:
        for task_id in busy:
            call(agent, "DELETE", f"/api/tasks/{task_id}")
    for task_id in busy:
        wait_for_state(agent, task_id, "cancelled")


@pytest.mark.parametrize(
    "args",
    [["show", "tnope"], ["logs", "tnope"], ["logs", "tnope", "-f"], ["cancel", "tnope"]],
    ids=" ".join,
)
def test_unknown_task_is_one_line(agent: AgentProcess, args: list[str]) -> None:
    result = invoke_agent(agent, "tasks", *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "openfabric: no task 'tnope' (TASK_NOT_FOUND)\n"


def test_unknown_node_is_refused(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "tasks", "run", "true", "--node", "no-such-node")
    assert result.exit_code == 1
    assert result.stderr == "openfabric: no node 'no-such-node' in this cluster (UNKNOWN_NODE)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "NOEQUALS"], "Invalid value for '--env': 'NOEQUALS' is not KEY=VALUE"),
        (["--env", "=v"], "Invalid value for '--env': '=v' is not KEY=VALUE"),
        (["--label", "x"], "Invalid value for '--label': 'x' is not KEY=VALUE"),
        (["--cwd", "relative/dir"], "Invalid value for '--cwd': 'relative/dir' is not an absolute"),
        (["--timeout", "0"], "Invalid value for '--timeout'"),
        (["--retries", "11"], "Invalid value for '--retries'"),
    ],
)
def test_bad_options_are_usage_errors(agent: AgentProcess, args: list[str], message: str) -> None:
    before = call(agent, "GET", "/api/tasks").json()["total"]
    result = invoke_agent(agent, "tasks", "run", "true", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert call(agent, "GET", "/api/tasks").json()["total"] == before


# --- scheduler ---------------------------------------------------------------------------


def test_scheduler_stats(agent: AgentProcess) -> None:
    wait_for_state(agent, submit(agent, "true"), "succeeded")
    as_json = invoke_agent(agent, "scheduler", "stats", "--format", "json")
    assert as_json.exit_code == 0, as_json.stderr
    stats = json.loads(as_json.stdout)
    assert stats["queue_depth"] >= 0
    assert stats["totals"]["succeeded"] >= 1
    (node,) = stats["nodes"]
    assert node["node_id"] == agent.info["node_id"]

    table = invoke_agent(agent, "scheduler", "stats").stdout
    assert re.search(r"^Queue depth\s+\d+$", table, re.M)
    assert re.search(
        r"^Dispatch latency\s+p50 [\d.]+ ms, p99 [\d.]+ ms \(\d+ samples\)$", table, re.M
    )
    header, row = table.split("\n\n")[1].splitlines()
    assert header.split() == [
        "NODE",
        "NAME",
        "STATE",
        "RUNNING/LIMIT",
        "BREAKER",
        "FAILURES",
        "RETRY",
        "IN",
    ]
    assert row.split()[0] == agent.info["node_id"][:12]
    assert row.split()[4:] == ["closed", "0", "-"]
