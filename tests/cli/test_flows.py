"""`openfabric flows list|show|apply|run|toggle|runs|rm|cancel|rerun|schema` against one real
agent: applying YAML and JSON files (create, then update by name), a refused file printed
FILE:LINE:COLUMN, running with typed inputs and following to the exit status, a failing run,
reruns from a step, and the usage errors caught before any request.

The agent is shared by the module: each test works on flows of its own name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.flows.models import DefinitionError
from cli.commands.flows_views import error_lines
from tests.cli.conftest import invoke_agent
from tests.harness import AgentProcess, agent_process, call

pytestmark = pytest.mark.timeout(120)

GREETER = """name: CLI greeter{suffix}
inputs:
  word: {{type: string, default: hello}}
  count: {{type: integer, default: 1}}
triggers:
  - manual: {{}}
steps:
  - id: pause
    uses: wait
    with: {{duration: 50ms}}
  - id: store
    uses: storage.put
    with:
      path: "flows-cli/${{{{ run.id }}}}.txt"
      content: "${{{{ inputs.word }}}} x ${{{{ inputs.count }}}}"
"""
FAILING = """name: CLI failing
steps:
  - id: fetch
    uses: storage.get
    with: {path: flows-cli/never-written.txt}
"""
BROKEN = """name: CLI broken
steps:
  - id: first
    uses: no.such.action
  - id: second
    uses: wait
    with: {duration: 1s}
    on_error: explode
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("flows-cli") / "home") as a:
        yield a


def ok(agent: AgentProcess, *args: str) -> str:
    result = invoke_agent(agent, *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def refused(agent: AgentProcess, *args: str, code: int = 1) -> str:
    result = invoke_agent(agent, *args)
    assert result.exit_code == code, result.stdout
    assert result.stdout == ""
    return result.stderr


def api(agent: AgentProcess, path: str) -> Any:
    response = call(agent, "GET", path)
    assert response.status_code == 200, response.text
    return response.json()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_apply_creates_then_updates_by_name(agent: AgentProcess, tmp_path: Path) -> None:
    file = write(tmp_path, "greeter.yaml", GREETER.format(suffix=" one"))
    created = "created cli-greeter-one (version 1, enabled)\n"
    assert ok(agent, "flows", "apply", "-f", file) == created
    changed = GREETER.format(suffix=" one").replace("default: hello", "default: hi")
    Path(file).write_text(changed)
    updated = "updated cli-greeter-one (version 2, enabled)\n"
    assert ok(agent, "flows", "apply", "-f", file) == updated
    assert api(agent, "/api/flows/cli-greeter-one")["source"] == changed

    table = ok(agent, "flows", "list")
    header = ["ID", "ENABLED", "TRIGGERS", "OWNER", "LAST", "RUN", "NAME"]
    assert table.splitlines()[0].split() == header
    (row,) = [line for line in table.splitlines() if line.startswith("cli-greeter-one ")]
    assert re.search(r"^cli-greeter-one\s+on\s+.*\bnever\s+CLI greeter one$", row), row
    listed = json.loads(ok(agent, "flows", "list", "--format", "json"))
    assert listed == api(agent, "/api/flows")
    shown = ok(agent, "flows", "show", "cli-greeter-one")
    assert re.search(r"^version\s+2 \(saved on ", shown, re.M), shown
    assert shown.rstrip().endswith(changed.rstrip())

    assert ok(agent, "flows", "toggle", "cli-greeter-one", "--off").startswith("disabled ")
    assert api(agent, "/api/flows/cli-greeter-one")["enabled"] is False
    assert ok(agent, "flows", "toggle", "cli-greeter-one").startswith("enabled ")
    assert ok(agent, "flows", "rm", "cli-greeter-one") == "removed cli-greeter-one (0 runs)\n"
    assert "FLOW_NOT_FOUND" in refused(agent, "flows", "show", "cli-greeter-one")


def test_json_files_by_extension_and_by_content(agent: AgentProcess, tmp_path: Path) -> None:
    step = {"id": "pause", "uses": "wait", "with": {"duration": 0.01}}
    body: dict[str, Any] = {"name": "CLI json", "steps": [step]}
    ok(agent, "flows", "apply", "-f", write(tmp_path, "flow.json", json.dumps(body)))
    assert api(agent, "/api/flows/cli-json")["format"] == "json"
    body["description"] = "now from a file without an extension"
    assert ok(agent, "flows", "apply", "-f", write(tmp_path, "flow", json.dumps(body))).startswith(
        "updated cli-json (version 2"
    )
    flow = api(agent, "/api/flows/cli-json")
    assert (flow["format"], flow["description"]) == ("json", body["description"])
    ok(agent, "flows", "rm", "cli-json")


def test_a_refused_file_prints_each_problem_at_its_place(
    agent: AgentProcess, tmp_path: Path
) -> None:
    file = write(tmp_path, "broken.yaml", BROKEN)
    err = refused(agent, "flows", "apply", "-f", file)
    lines = err.splitlines()
    places = [re.match(rf"^{re.escape(file)}:(\d+):(\d+): \S", line) for line in lines[:-1]]
    assert all(places), err
    assert {4, 8} <= {int(m.group(1)) for m in places if m}, err
    assert re.match(r"^openfabric: \d+ problems?; nothing saved$", lines[-1]), err
    assert "cli-broken" not in [f["id"] for f in api(agent, "/api/flows")["flows"]]
    syntax = refused(agent, "flows", "apply", "-f", write(tmp_path, "bad.yaml", "name: [x\n"))
    assert re.match(rf"^{re.escape(str(tmp_path))}/bad.yaml:\d+:\d+: ", syntax), syntax


def test_run_with_inputs_follow_runs_and_rerun(agent: AgentProcess, tmp_path: Path) -> None:
    ok(agent, "flows", "apply", "-f", write(tmp_path, "g.yaml", GREETER.format(suffix=" two")))
    flow = "cli-greeter-two"
    result = invoke_agent(
        agent, "flows", "run", flow, "--input", "word=salut", "--input", "count=3", "--follow"
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert re.search(r"^\d\d:\d\d:\d\d step pause succeeded", out, re.M), out
    assert re.search(r"^\d\d:\d\d:\d\d step store succeeded", out, re.M), out
    assert re.search(r"^state\s+succeeded$", out, re.M), out
    (run,) = api(agent, f"/api/flows/{flow}/runs")["runs"]
    assert run["inputs"] == {"word": "salut", "count": 3}

    runs = ok(agent, "flows", "runs", flow)
    assert runs.splitlines()[0].split()[:3] == ["RUN", "STATE", "TRIGGER"]
    assert re.search(rf"^{run['id']}\s+succeeded\s+manual\s", runs, re.M), runs
    detail = ok(agent, "flows", "run", flow, run["id"])
    assert re.search(r"^  pause\s+succeeded\s+1 attempt\s", detail, re.M), detail
    assert re.search(r"^  store\s+succeeded\s+1 attempt\s", detail, re.M), detail
    as_json = json.loads(ok(agent, "flows", "run", flow, run["id"], "--format", "json"))
    assert as_json == api(agent, f"/api/flows/{flow}/runs/{run['id']}")

    assert "FLOW_RUN_FINISHED" in refused(agent, "flows", "cancel", flow, run["id"])
    rerun = invoke_agent(agent, "flows", "rerun", flow, run["id"], "--from", "store", "--follow")
    assert rerun.exit_code == 0, rerun.stderr
    assert "step pause" not in rerun.stdout
    assert re.search(rf"^rerun of\s+{run['id']}$", rerun.stdout, re.M), rerun.stdout
    quiet = ok(agent, "flows", "run", flow, "--quiet").strip()
    assert re.fullmatch(r"\S+", quiet), quiet
    assert quiet != run["id"]
    assert ok(agent, "flows", "rm", flow, run["id"]) == f"removed run {run['id']}\n"
    assert ok(agent, "flows", "rm", flow).startswith(f"removed {flow} (")


def test_a_failing_run_followed_exits_1(agent: AgentProcess, tmp_path: Path) -> None:
    ok(agent, "flows", "apply", "-f", write(tmp_path, "f.yaml", FAILING))
    result = invoke_agent(agent, "flows", "run", "cli-failing", "--follow")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert re.search(r"step fetch failed", result.stdout), result.stdout
    assert re.search(r"^state\s+failed", result.stdout, re.M), result.stdout
    ok(agent, "flows", "rm", "cli-failing")


def test_schema_and_usage_errors(agent: AgentProcess) -> None:
    schema = json.loads(ok(agent, "flows", "schema"))
    assert "steps" in schema["properties"]
    assert "is not NAME=VALUE" in refused(agent, "flows", "run", "x", "--input", "novalue", code=2)
    usage = refused(agent, "flows", "run", "x", "RUN", "--follow", code=2)
    assert "give no RUN" in usage
    assert "FLOW_NOT_FOUND" in refused(agent, "flows", "runs", "no-such-flow")


def test_problems_read_as_a_compiler_writes_them() -> None:
    errors = [
        DefinitionError(line=3, column=7, path="steps[0].uses", message="unknown action"),
        DefinitionError(line=None, column=None, path="", message="a cycle through sub-flows"),
    ]
    assert error_lines("f.yaml", errors) == [
        "f.yaml:3:7: unknown action (at steps[0].uses)",
        "f.yaml: a cycle through sub-flows",
    ]
