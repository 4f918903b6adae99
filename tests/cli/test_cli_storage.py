"""`storage ls|put|get|rm` against one real agent, and the SDK's storage calls without one.

The agent is shared by the module: every test stores under a path of its own, so the
others' files never matter. Broken transfers are in `test_cli_storage_faults.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from cli.main import cli
from tests.cli.conftest import cli_env, invoke_agent, process_env, run_process
from tests.harness import AgentProcess, agent_process, call

pytestmark = pytest.mark.timeout(90)
MIB = 1024 * 1024
HEX64 = "[0-9a-f]{64}"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("storage") / "agent-home") as started:
        yield started


def run_cli(agent: AgentProcess, *args: str) -> Any:
    """The installed `openfabric` as a real process, pointed at the agent with --url."""
    return run_process(["--url", agent.url, *args], process_env(agent.home, agent.token))


def invoke_input(agent: AgentProcess, data: bytes, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["--url", agent.url, *args],
        input=data,
        env=cli_env(agent.home, agent.token),
        catch_exceptions=False,
    )


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(agent: AgentProcess, prefix: str) -> dict[str, dict[str, Any]]:
    response = call(agent, "GET", "/api/storage", params={"prefix": prefix})
    assert response.status_code == 200, response.text
    return {f["path"]: f for f in response.json()["files"]}


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# --- the whole life of a file (real processes for put and get) ----------------------------


def test_put_ls_get_rm_round_trip(agent: AgentProcess, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 12345)  # several chunks, the last one partial
    local = write(tmp_path / "up" / "data.bin", data)

    put = run_cli(agent, "storage", "put", str(local), "trip/data.bin")
    assert put.returncode == 0, put.stderr
    assert put.stdout == f"stored trip/data.bin (3.0 MiB) sha256 {sha(data)}\n"
    assert put.stderr == ""  # no meter: stderr is not a terminal

    listing = json.loads(invoke_agent(agent, "storage", "ls", "trip", "--format", "json").stdout)
    assert listing["count"] == 1
    (file,) = listing["files"]
    assert (file["path"], file["size"], file["sha256"]) == ("trip/data.bin", len(data), sha(data))
    assert file["health"] == "healthy"
    assert file["nodes"] == [agent.info["node_id"]]

    table = invoke_agent(agent, "storage", "ls", "trip").stdout.splitlines()
    assert table[0].split() == ["PATH", "SIZE", "HEALTH", "NODES", "MODIFIED"]
    assert re.fullmatch(r"trip/data\.bin\s+3\.0 MiB\s+healthy\s+1\s+\d+s ago", table[1])

    down = tmp_path / "down"
    down.mkdir()
    get = run_cli(agent, "storage", "get", "trip/data.bin", str(down / "copy.bin"))
    assert get.returncode == 0, get.stderr
    assert get.stdout == f"saved trip/data.bin to {down / 'copy.bin'} (3.0 MiB)\n"
    assert (down / "copy.bin").read_bytes() == data
    assert leftovers(down) == []

    piped = invoke_agent(agent, "storage", "get", "trip/data.bin", "-")
    assert piped.exit_code == 0, piped.stderr
    assert piped.stdout_bytes == data

    removed = invoke_agent(agent, "storage", "rm", "trip/data.bin")
    assert (removed.exit_code, removed.stdout) == (0, "deleted trip/data.bin\n")
    assert stored(agent, "trip") == {}

    gone = invoke_agent(agent, "storage", "get", "trip/data.bin", str(down / "again.bin"))
    assert gone.exit_code == 1
    assert gone.stderr == "openfabric: no file trip/data.bin in storage (FILE_NOT_FOUND)\n"
    assert sorted(p.name for p in down.iterdir()) == ["copy.bin"]

    again = invoke_agent(agent, "storage", "rm", "trip/data.bin")
    assert again.exit_code == 1
    assert again.stderr.endswith("(FILE_NOT_FOUND)\n")


def test_json_and_yaml_print_exactly_what_the_agent_answered(
    agent: AgentProcess, tmp_path: Path
) -> None:
    local = write(tmp_path / "j.txt", b"json")
    put = invoke_agent(agent, "storage", "put", str(local), "js/j.txt", "--format", "json")
    assert put.exit_code == 0, put.stderr
    listing = call(agent, "GET", "/api/storage", params={"prefix": "js"}).json()
    assert listing["files"] == [json.loads(put.stdout)]

    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        shown = invoke_agent(agent, "storage", "ls", "js", "--format", fmt)
        assert shown.exit_code == 0, shown.stderr
        assert load(shown.stdout) == listing

    removed = invoke_agent(agent, "storage", "rm", "js/j.txt", "--format", "json")
    assert json.loads(removed.stdout) == {"path": "js/j.txt", "deleted": True}


def test_an_empty_file_round_trips(agent: AgentProcess, tmp_path: Path) -> None:
    local = write(tmp_path / "empty", b"")
    put = invoke_agent(agent, "storage", "put", str(local), "zero/empty", "-q")
    assert put.exit_code == 0, put.stderr
    assert put.stdout == f"{sha(b'')}  zero/empty\n"
    assert stored(agent, "zero")["zero/empty"]["size"] == 0

    got = invoke_agent(agent, "storage", "get", "zero/empty", str(tmp_path / "out"))
    assert got.exit_code == 0, got.stderr
    assert (tmp_path / "out").read_bytes() == b""
    assert got.stdout == f"saved zero/empty to {tmp_path / 'out'} (0 B)\n"
    assert invoke_agent(agent, "storage", "get", "zero/empty", "-").stdout_bytes == b""


def test_names_default_to_the_basename(
    agent: AgentProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(1000)
    local = write(tmp_path / "src" / "naïve report.txt", data)
    put = invoke_agent(agent, "storage", "put", str(local), "--format", "json")
    assert put.exit_code == 0, put.stderr
    assert json.loads(put.stdout)["path"] == "naïve report.txt"

    assert invoke_agent(agent, "storage", "put", str(local), "deep/er/ü é.txt").exit_code == 0
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    got = invoke_agent(agent, "storage", "get", "deep/er/ü é.txt", "--format", "json")
    assert got.exit_code == 0, got.stderr
    assert (work / "ü é.txt").read_bytes() == data
    doc = json.loads(got.stdout)
    assert doc == {"path": "deep/er/ü é.txt", "local": "ü é.txt", "size": 1000, "sha256": sha(data)}

    into = tmp_path / "into"
    into.mkdir()
    assert invoke_agent(agent, "storage", "get", "naïve report.txt", str(into)).exit_code == 0
    assert (into / "naïve report.txt").read_bytes() == data
    for path in ("naïve report.txt", "deep/er/ü é.txt"):
        assert invoke_agent(agent, "storage", "rm", path, "-q").exit_code == 0


def test_put_from_stdin_needs_a_path(agent: AgentProcess) -> None:
    data = os.urandom(MIB + 1)
    put = invoke_input(agent, data, "storage", "put", "-", "stdin/blob", "--format", "yaml")
    assert put.exit_code == 0, put.stderr
    assert f"sha256: {sha(data)}" in put.stdout
    assert stored(agent, "stdin")["stdin/blob"]["size"] == len(data)

    nameless = invoke_input(agent, b"x", "storage", "put", "-")
    assert nameless.exit_code == 2
    assert "say where to store stdin" in nameless.stderr


# --- refusals ----------------------------------------------------------------------------


def test_put_over_an_existing_file_needs_overwrite(agent: AgentProcess, tmp_path: Path) -> None:
    first, second = os.urandom(2 * MIB), os.urandom(3000)
    assert (
        invoke_agent(agent, "storage", "put", str(write(tmp_path / "a", first)), "ow/f").exit_code
        == 0
    )

    local = write(tmp_path / "b", second)
    refused = run_cli(agent, "storage", "put", str(local), "ow/f")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        "openfabric: ow/f already exists; replace it with --overwrite (FILE_EXISTS)\n"
    )
    assert stored(agent, "ow")["ow/f"]["sha256"] == sha(first)
    spelled = invoke_agent(agent, "storage", "put", str(local), "ow//f")
    assert spelled.stderr.endswith("(FILE_EXISTS)\n")

    replaced = invoke_agent(agent, "storage", "put", str(local), "ow/f", "--overwrite")
    assert replaced.exit_code == 0, replaced.stderr
    assert stored(agent, "ow")["ow/f"]["sha256"] == sha(second)
    assert invoke_agent(agent, "storage", "get", "ow/f", "-").stdout_bytes == second


@pytest.mark.parametrize("path", ["../x", "a/../x", "./x", "/abs", "back\\slash"])
def test_invalid_paths_are_refused(agent: AgentProcess, tmp_path: Path, path: str) -> None:
    local = write(tmp_path / "f", b"data")
    put = invoke_agent(agent, "storage", "put", str(local), path)
    assert put.exit_code == 1
    assert re.fullmatch(r"openfabric: invalid storage path: .+ \(INVALID_PATH\)\n", put.stderr)

    out = tmp_path / "out"
    out.mkdir()
    get = invoke_agent(agent, "storage", "get", path, str(out / "x"))
    assert get.exit_code == 1
    assert get.stderr.endswith("(INVALID_PATH)\n")
    assert list(out.iterdir()) == []


def test_get_does_not_replace_a_local_file_without_force(
    agent: AgentProcess, tmp_path: Path
) -> None:
    data = os.urandom(5000)
    assert (
        invoke_agent(agent, "storage", "put", str(write(tmp_path / "s", data)), "keep/f").exit_code
        == 0
    )
    existing = write(tmp_path / "existing", b"precious")

    refused = invoke_agent(agent, "storage", "get", "keep/f", str(existing))
    assert refused.exit_code == 1
    assert refused.stderr == f"openfabric: {existing} already exists (replace it with --force)\n"
    assert existing.read_bytes() == b"precious"

    forced = invoke_agent(agent, "storage", "get", "keep/f", str(existing), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert existing.read_bytes() == data
    assert leftovers(tmp_path) == []


def test_a_missing_file_creates_nothing(agent: AgentProcess, tmp_path: Path) -> None:
    get = run_cli(agent, "storage", "get", "no/such/file", str(tmp_path / "never"))
    assert get.returncode == 1
    assert get.stderr == "openfabric: no file no/such/file in storage (FILE_NOT_FOUND)\n"
    assert list(tmp_path.iterdir()) == []


def test_ls_of_an_invalid_prefix(agent: AgentProcess) -> None:
    result = invoke_agent(agent, "storage", "ls", "../up")
    assert result.exit_code == 1
    assert result.stderr.endswith("(INVALID_PATH)\n")


# --- failures halfway (a mock agent) -----------------------------------------------------
