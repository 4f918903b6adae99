"""Generated requests against every documented operation of a real agent: whatever the input,
no server error and no status the API description does not declare."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.ollama import FakeOllama, fake_ollama_process
from tests.harness import AgentProcess, agent_process, call

pytestmark = pytest.mark.slow


@pytest.fixture
def fuzzed_agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """An agent whose Ollama is up and whose embedding model is loaded, as in normal use: a
    503 for a missing backend is the documented answer, but the fuzzer counts every 5xx as a
    failure (the down case has its own tests)."""
    with (
        fake_ollama_process(
            tmp_path / "ollama.json", FakeOllama(models=["qwen2.5:0.5b"])
        ) as ollama,
        agent_process(tmp_path / "agent-home", "--ollama-url", ollama.url) as agent,
    ):
        # Memory's first add or search loads the embedding model (seconds, more on a busy
        # machine): loaded here, so no generated request waits past the fuzzer's timeout.
        warm = call(agent, "GET", "/api/memory/search", params={"q": "warm"}, timeout=120)
        assert warm.status_code == 200, warm.text
        yield agent


def test_api_survives_generated_requests(fuzzed_agent: AgentProcess, tmp_path: Path) -> None:
    agent_proc = fuzzed_agent
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
            # Streams never end by themselves; the cluster join would talk to arbitrary hosts;
            # a brain source may be any folder of this machine, "/" included (its bad input
            # is tested in tests/brain).
            "--exclude-path-regex",
            "events|logs|join-remote|brain/reindex",
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
