"""The LLM pool against an Ollama double that speaks Ollama's HTTP protocol."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agent.core.bus import next_event
from tests.fakes.ollama import FakeOllama, fake_ollama_process, serve_fake_ollama
from tests.harness import agent_processes, call, form_cluster, live_agent, make_settings, wait_until


async def test_status_models_and_delete(tmp_path: Path) -> None:
    fake = FakeOllama(models=["llama3.1:8b", "llama3.1:70b"])
    async with (
        serve_fake_ollama(fake) as ollama,
        live_agent(make_settings(tmp_path, ollama_url=ollama.url)) as agent,
        agent.client() as client,
    ):
        status = (await client.get("/api/llm/status")).json()
        assert status["up"] is True
        assert status["reason"] is None
        assert status["version"] == fake.version
        names = {m["name"] for m in status["models"]}
        assert names == {"llama3.1:8b", "llama3.1:70b"}
        small = next(m for m in status["models"] if m["name"] == "llama3.1:8b")
        assert small["quantization"] == "Q4_K_M"
        assert small["context_length"] > 0

        models = (await client.get("/api/llm/models")).json()
        by_name = {m["name"]: m for m in models["models"]}
        assert by_name["llama3.1:8b"]["nodes"][0]["node_id"] == status["node_id"]
        # One machine with ~24 GB: the 8B model fits, the 70B one does not.
        assert by_name["llama3.1:8b"]["plan"]["verdict"] == "single_node"
        assert by_name["llama3.1:70b"]["plan"]["verdict"] == "infeasible"
        assert by_name["llama3.1:70b"]["plan"]["shortfall_bytes"] > 0

        caps = (await client.get("/api/llm/inference/capabilities")).json()
        assert caps["count"] == 1
        assert caps["nodes"][0]["llm"]["up"] is True
        assert caps["nodes"][0]["free_ram"] > 0

        gone = await client.delete("/api/llm/models/llama3.1:70b")
        assert gone.status_code == 200
        assert gone.json() == {"model": "llama3.1:70b", "deleted": True}
        assert {m["name"] for m in (await client.get("/api/llm/status")).json()["models"]} == {
            "llama3.1:8b"
        }
        missing = await client.delete("/api/llm/models/nope:1b")
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "MODEL_NOT_FOUND"


async def test_backend_down_and_back(tmp_path: Path) -> None:
    async with (
        serve_fake_ollama(FakeOllama(models=["qwen2.5:0.5b"])) as ollama,
        live_agent(make_settings(tmp_path, ollama_url=ollama.url)) as agent,
        agent.client() as client,
    ):
        bus = agent.server.config.app.state.bus
        watch = bus.subscribe(["llm.backend"])
        assert (await client.get("/api/llm/status")).json()["up"] is True
        await ollama.stop()
        down = await _status_until(client, up=False)
        assert "refused" in down["reason"]
        deleted = await client.delete("/api/llm/models/qwen2.5:0.5b")
        assert deleted.status_code == 503
        assert deleted.json()["error_code"] == "LLM_BACKEND_UNAVAILABLE"
        # Nothing else breaks while it is down.
        assert (await client.get("/api/status")).status_code == 200
        assert (await client.get("/api/llm/models")).json()["count"] == 0
        await ollama.start()
        await _status_until(client, up=True)
        seen = []
        while (event := await next_event(watch, 0.2)) is not None:
            seen.append(event.data["up"])
        assert False in seen
        assert seen[-1] is True


async def _status_until(client, *, up: bool) -> dict:
    """Status answers from a snapshot at most a second old; wait until it reflects `up`."""
    deadline = time.monotonic() + 10
    while (status := (await client.get("/api/llm/status")).json())["up"] is not up:
        assert time.monotonic() < deadline, f"the agent never saw Ollama {'up' if up else 'down'}"
        await asyncio.sleep(0.05)
    return status


@pytest.mark.slow
def test_models_across_the_cluster(tmp_path: Path) -> None:
    with (
        fake_ollama_process(tmp_path / "a.json", FakeOllama(models=["llama3.1:8b"])) as a,
        fake_ollama_process(tmp_path / "b.json", FakeOllama(models=["qwen2.5:0.5b"])) as b,
    ):
        homes = [tmp_path / "node-a", tmp_path / "node-b"]
        with (
            agent_processes(homes[:1], "--ollama-url", a.url) as (first,),
            agent_processes(homes[1:], "--ollama-url", b.url) as (second,),
        ):
            form_cluster([first, second])

            def catalog() -> dict[str, list[str]]:
                body = call(first, "GET", "/api/llm/models").json()
                return {m["name"]: [n["node_id"] for n in m["nodes"]] for m in body["models"]}

            wait_until(lambda: len(catalog()) == 2, 20, "both nodes' models")
            assert catalog() == {
                "llama3.1:8b": [first.info["node_id"]],
                "qwen2.5:0.5b": [second.info["node_id"]],
            }
            caps = call(second, "GET", "/api/llm/inference/capabilities").json()
            assert {n["node_id"] for n in caps["nodes"] if n["llm"] and n["llm"]["up"]} == {
                first.info["node_id"],
                second.info["node_id"],
            }
