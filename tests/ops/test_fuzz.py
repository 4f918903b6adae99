"""Generated requests against every documented operation of a real agent: whatever the input,
no server error and no status the API description does not declare."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.harness import AgentProcess

pytestmark = pytest.mark.slow


def test_api_survives_generated_requests(agent_proc: AgentProcess, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("schemathesis is not installed (it is a dev dependency)")
    spec = tmp_path / "openapi.json"
    spec.write_bytes(
        httpx.get(agent_proc.url + "/api/openapi.json", headers=agent_proc.headers()).content
    )
    result = subprocess.run(
        [
            cli,
            "run",
            str(spec),
            "--url",
            agent_proc.url,
            "-H",
            f"Authorization: Bearer {agent_proc.token}",
            "--checks",
            "not_a_server_error,status_code_conformance",
            # Streams never end by themselves; the cluster join would talk to arbitrary hosts.
            "--exclude-path-regex",
            "events|logs|join-remote",
            "--max-examples",
            "25",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:]
