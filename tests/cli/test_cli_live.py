"""Commands with side effects or streams, each against its own real agent."""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agent.client import AgentClient, Health, HealthProbe
from tests.cli.conftest import (
    OPENFABRIC_SCRIPT,
    invoke,
    invoke_agent,
    process_env,
    run_process,
)
from tests.harness import REPO, AgentProcess

TIME = r"\d\d:\d\d:\d\d\.\d{3}"


def test_output_file_gets_the_output_instead_of_stdout(
    agent_proc: AgentProcess, tmp_path: Path
) -> None:
    target = tmp_path / "status.json"
    result = invoke_agent(agent_proc, "status", "--format", "json", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert json.loads(target.read_text())["node_id"] == agent_proc.info["node_id"]


def test_unknown_node_is_one_line_with_the_error_code(agent_proc: AgentProcess) -> None:
    result = invoke_agent(agent_proc, "nodes", "show", "no-such-node")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        result.stderr == "openfabric: no node with id 'no-such-node' in this cluster "
        "(NODE_NOT_FOUND)\n"
    )


def test_a_node_cannot_evict_itself(agent_proc: AgentProcess) -> None:
    result = invoke_agent(agent_proc, "nodes", "evict", agent_proc.info["node_id"], "--yes")
    assert result.exit_code == 1
    assert result.stderr.endswith("(CANNOT_EVICT_SELF)\n")


def test_a_wrong_token_is_reported_not_raised(agent_proc: AgentProcess) -> None:
    result = invoke(["--url", agent_proc.url, "status"], agent_proc.home, token="wrong" * 10)
    assert result.exit_code == 1
    assert result.stderr.startswith("openfabric: invalid API token")
    assert result.stderr.endswith("(UNAUTHORIZED)\n")


@pytest.mark.timeout(30)
def test_events_receives_telemetry_as_ndjson_and_table(agent_proc: AgentProcess) -> None:
    as_json = invoke_agent(
        agent_proc, "events", "--count", "1", "--topics", "node.telemetry", "--format", "json"
    )
    assert as_json.exit_code == 0, as_json.stderr
    (line,) = as_json.stdout.splitlines()
    event = json.loads(line)
    assert event["topic"] == "node.telemetry"
    assert event["data"]["node_id"] == agent_proc.info["node_id"]

    as_table = invoke_agent(agent_proc, "events", "--count", "2", "--topics", "node.telemetry")
    assert as_table.exit_code == 0, as_table.stderr
    lines = as_table.stdout.splitlines()
    assert len(lines) == 2
    for text in lines:
        match = re.fullmatch(rf"{TIME}  (\S+)  (.*)", text)
        assert match is not None, text
        topic, data = match.groups()
        assert topic == "node.telemetry"
        assert json.loads(data)["node_id"] == agent_proc.info["node_id"]

    # Last-Event-ID: asking for what came after id-1 replays that very event (an event the
    # ring keeps: samples are live only; the LLM backend's state is published after start).
    held = invoke_agent(
        agent_proc, "events", "--count", "2", "--format", "json", "--topics", "llm.backend",
        "--last-event-id", "0",
    )  # fmt: skip
    backend = next(
        e for e in map(json.loads, held.stdout.splitlines()) if e["topic"] == "llm.backend"
    )
    replay = invoke_agent(
        agent_proc,
        "events",
        "--count",
        "1",
        "--format",
        "json",
        "--topics",
        "llm.backend",
        "--last-event-id",
        str(backend["id"] - 1),
    )
    assert json.loads(replay.stdout)["id"] == backend["id"]


def test_dashboard_url_logs_in_once_and_never_shows_the_token(agent_proc: AgentProcess) -> None:
    result = invoke_agent(agent_proc, "dashboard", "--no-browser")
    assert result.exit_code == 0, result.stderr
    assert agent_proc.token not in result.stdout + result.stderr
    url = result.stdout.strip()
    assert url.startswith(f"{agent_proc.url}/login?code=")
    response = httpx.get(url, follow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"openfabric_session_{agent_proc.info['port']}=")
    assert agent_proc.token not in cookie
    again = httpx.get(url, follow_redirects=False, timeout=10)
    assert again.status_code == 401
    assert again.json()["error_code"] == "INVALID_LOGIN_CODE"


def test_dashboard_opens_the_browser(
    agent_proc: AgentProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    result = invoke_agent(agent_proc, "dashboard")
    assert result.exit_code == 0
    assert opened == [result.stdout.strip()]
    assert result.stderr == "opened the dashboard in your browser\n"
    quiet = invoke_agent(agent_proc, "dashboard", "--quiet")
    assert quiet.stderr == ""
    assert opened[-1] == quiet.stdout.strip()


def test_version_names_the_running_agent(agent_proc: AgentProcess) -> None:
    result = invoke_agent(agent_proc, "version", "--format", "json")
    body = json.loads(result.stdout)
    assert body["agent"]["node_id"] == agent_proc.info["node_id"]
    assert body["agent"]["version"] == body["cli_version"]


def test_unhealthy_exits_1_after_printing(
    agent_proc: AgentProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = AgentClient.health

    async def failing(self: AgentClient) -> Health | HealthProbe:
        report = await real(self)
        assert isinstance(report, Health)
        report.status = "unhealthy"
        report.checks[0].status = "fail"
        return report

    monkeypatch.setattr(AgentClient, "health", failing)
    result = invoke_agent(agent_proc, "health")
    assert result.exit_code == 1
    assert re.search(r"^Status\s+unhealthy$", result.stdout, re.M)


def test_status_as_a_real_process(agent_proc: AgentProcess) -> None:
    env = process_env(agent_proc.home, agent_proc.token)
    done = run_process(["status", "--format", "json"], env)
    assert done.returncode == 0, done.stderr
    # Found through <home>/agent.json: no --url given.
    assert json.loads(done.stdout)["node_id"] == agent_proc.info["node_id"]


def _follow(agent: AgentProcess) -> subprocess.Popen[str]:
    command = (
        [str(OPENFABRIC_SCRIPT)] if OPENFABRIC_SCRIPT.exists() else [sys.executable, "-m", "cli"]
    )
    return subprocess.Popen(
        [*command, "--url", agent.url, "events", "--topics", "node.telemetry"],
        cwd=REPO,
        env=process_env(agent.home, agent.token),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # The test runner may ignore SIGINT; the CLI must see it as a terminal would send it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _first_line(process: subprocess.Popen[str], timeout: float = 15) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "no event within the timeout"
    return process.stdout.readline()


@pytest.mark.timeout(60)
def test_ctrl_c_stops_following_cleanly(agent_proc: AgentProcess) -> None:
    process = _follow(agent_proc)
    try:
        assert "node.telemetry" in _first_line(process)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0
    assert err == ""


@pytest.mark.timeout(60)
def test_agent_stopping_ends_the_follow_with_one_line(agent_proc: AgentProcess) -> None:
    process = _follow(agent_proc)
    try:
        assert "node.telemetry" in _first_line(process)
        agent_proc.stop()
        _, err = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 1
    assert err.count("\n") == 1
    assert err.startswith("openfabric: the agent closed the event stream")
