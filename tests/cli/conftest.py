"""Helpers for the CLI tests: run `openfabric` in-process (CliRunner) or as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from tests.harness import REPO, AgentProcess, agent_process

OPENFABRIC_SCRIPT = Path(sys.executable).parent / "openfabric"


def free_port() -> int:
    """A port nothing listens on: bound once by us, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(home: Path, token: str | None = None) -> dict[str, str | None]:
    """Overrides for CliRunner: every OPENFABRIC_* variable of the outer shell is unset."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OPENFABRIC_")}
    env["OPENFABRIC_HOME"] = str(home)
    if token is not None:
        env["OPENFABRIC_TOKEN"] = token
    return env


def process_env(home: Path, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENFABRIC_")}
    env["OPENFABRIC_HOME"] = str(home)
    if token is not None:
        env["OPENFABRIC_TOKEN"] = token
    return env


def invoke(args: list[str], home: Path, token: str | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=cli_env(home, token), catch_exceptions=False)


def invoke_agent(agent: AgentProcess, *args: str) -> Result:
    """`openfabric --url <agent> ARGS` with the agent's token and home, in-process."""
    return invoke(["--url", agent.url, *args], agent.home, agent.token)


def run_process(
    args: list[str], env: dict[str, str], *, module: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed `openfabric` script (or `python -m cli`) as a real subprocess."""
    script = not module and OPENFABRIC_SCRIPT.exists()
    command = [str(OPENFABRIC_SCRIPT)] if script else [sys.executable, "-m", "cli"]
    return subprocess.run(
        [*command, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """One real agent for the read-only format matrix (starting one per case adds nothing)."""
    with agent_process(tmp_path_factory.mktemp("shared") / "agent-home") as agent:
        yield agent
