"""Against a real Ollama, when one is available: OPENFABRIC_TEST_OLLAMA_URL=http://host:11434."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness import live_agent, make_settings

URL = os.environ.get("OPENFABRIC_TEST_OLLAMA_URL")
pytestmark = pytest.mark.skipif(
    not URL, reason="set OPENFABRIC_TEST_OLLAMA_URL to test against a real Ollama"
)


async def test_real_ollama_status_and_a_short_chat(tmp_path: Path) -> None:
    assert URL is not None
    async with (
        live_agent(make_settings(tmp_path, ollama_url=URL)) as agent,
        agent.client(timeout=300) as client,
    ):
        status = (await client.get("/api/llm/status")).json()
        assert status["up"] is True, status
        assert status["version"]
        if not status["models"]:
            pytest.skip("the Ollama under test has no models")
        model = min(status["models"], key=lambda m: m["size"])["name"]
        answer = await client.post(
            "/api/llm/chat",
            json={
                "model": model,
                "stream": False,
                "options": {"num_predict": 8},
                "messages": [{"role": "user", "content": "Say hello."}],
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["completion_tokens"] > 0
