"""Every read command against a real agent, in each output format."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.cli.conftest import invoke_agent
from tests.harness import AgentProcess

Check = Callable[[Any, AgentProcess], None]


def status_data(body: Any, agent: AgentProcess) -> None:
    assert body["node_id"] == agent.info["node_id"]
    assert body["node_count"] == 1
    assert set(body["ram"]) == {"total", "available"}


def nodes_data(body: Any, agent: AgentProcess) -> None:
    assert body["count"] == 1
    assert body["nodes"][0]["node_id"] == agent.info["node_id"]
    assert body["nodes"][0]["is_self"] is True


def node_data(body: Any, agent: AgentProcess) -> None:
    assert body["node_id"] == agent.info["node_id"]
    assert body["state"] == "online"


def health_data(body: Any, agent: AgentProcess) -> None:
    assert body["status"] in ("healthy", "degraded")
    assert {check["name"] for check in body["checks"]} >= {"database", "event_bus"}


def metrics_data(body: Any, agent: AgentProcess) -> None:
    assert body["count"] == len(body["metrics"]) > 0
    assert "openfabric_http_requests" in {family["name"] for family in body["metrics"]}


def status_table(text: str, agent: AgentProcess) -> None:
    assert re.search(r"^Nodes\s+1 online / 1 total$", text, re.M)
    assert re.search(r"^RAM\s+[\d.]+ [KMGT]iB available / [\d.]+ [KMGT]iB$", text, re.M)


def nodes_table(text: str, agent: AgentProcess) -> None:
    header, row = text.splitlines()
    columns = ["ID", "NAME", "STATE", "CPU%", "RAM USED/TOTAL", "DISK FREE", "GPUS", "LAST SEEN"]
    assert re.split(r"\s{2,}", header) == columns
    assert row.startswith(agent.info["node_id"][:12] + " *")
    assert " online " in row
    assert re.search(r"\d+[smhd] ago$", row)


def node_table(text: str, agent: AgentProcess) -> None:
    assert re.search(rf"^ID\s+{agent.info['node_id']}$", text, re.M)
    assert re.search(r"^State\s+online \(this node\)$", text, re.M)


def history_data(body: Any, agent: AgentProcess) -> None:
    assert body["node_id"] == agent.info["node_id"]
    assert body["count"] == len(body["samples"]) >= 1
    assert {s["node_id"] for s in body["samples"]} == {agent.info["node_id"]}


def history_table(text: str, agent: AgentProcess) -> None:
    header, *rows = text.splitlines()
    assert re.split(r"\s{2,}", header) == [
        "TIME",
        "CPU%",
        "MEM%",
        "STORAGE USED",
        "NET IN",
        "NET OUT",
    ]
    assert rows
    assert all(re.match(r"^\d{2}:\d{2}:\d{2}\s+[\d.]+%\s+[\d.]+%", row) for row in rows)


def health_table(text: str, agent: AgentProcess) -> None:
    assert re.search(r"^Status\s+(healthy|degraded)$", text, re.M)
    assert re.search(r"^database\s+pass\s+", text, re.M)


def metrics_table(text: str, agent: AgentProcess) -> None:
    assert text.splitlines()[0].split() == ["METRIC", "LABELS", "VALUE"]
    assert re.search(r"^openfabric_http_requests_total\s+method=GET,", text, re.M)


COMMANDS: dict[str, tuple[list[str], Check, Check]] = {
    "status": (["status"], status_data, status_table),
    "nodes list": (["nodes", "list"], nodes_data, nodes_table),
    "nodes show": (["nodes", "show", "{node_id}"], node_data, node_table),
    "nodes history": (["nodes", "history", "{node_id}"], history_data, history_table),
    "health": (["health"], health_data, health_table),
    "metrics": (["metrics"], metrics_data, metrics_table),
}


@pytest.mark.parametrize("fmt", ["json", "yaml", "table"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_in_each_format(shared_agent: AgentProcess, name: str, fmt: str) -> None:
    args, check_data, check_table = COMMANDS[name]
    args = [a.format(node_id=shared_agent.info["node_id"]) for a in args]
    result = invoke_agent(shared_agent, "--format", fmt, *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    if fmt == "json":
        check_data(json.loads(result.stdout), shared_agent)
    elif fmt == "yaml":
        check_data(yaml.safe_load(result.stdout), shared_agent)
    else:
        check_table(result.stdout.rstrip("\n"), shared_agent)


def test_global_options_after_the_command_win(shared_agent: AgentProcess) -> None:
    after = invoke_agent(shared_agent, "status", "--format", "json")
    assert json.loads(after.stdout)["node_id"] == shared_agent.info["node_id"]
    both = invoke_agent(shared_agent, "--format", "yaml", "nodes", "list", "--format", "json")
    assert json.loads(both.stdout)["count"] == 1


def test_node_show_accepts_the_short_id_of_the_table(shared_agent: AgentProcess) -> None:
    short = shared_agent.info["node_id"][:12]
    result = invoke_agent(shared_agent, "nodes", "show", short, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["node_id"] == shared_agent.info["node_id"]


def test_verbose_node_list_shows_full_ids(shared_agent: AgentProcess) -> None:
    result = invoke_agent(shared_agent, "nodes", "list", "--verbose")
    assert shared_agent.info["node_id"] + " *" in result.stdout


def test_prometheus_text(shared_agent: AgentProcess) -> None:
    result = invoke_agent(shared_agent, "metrics", "--prometheus")
    assert result.exit_code == 0
    assert "# TYPE openfabric_http_requests_total counter" in result.stdout


def test_verbose_logs_requests_to_stderr_only(shared_agent: AgentProcess) -> None:
    result = invoke_agent(shared_agent, "--verbose", "status", "--format", "json")
    assert json.loads(result.stdout)["node_id"] == shared_agent.info["node_id"]
    assert "HTTP Request: GET " in result.stderr
    quiet = invoke_agent(shared_agent, "status", "--log-level", "error")
    assert quiet.stderr == ""
