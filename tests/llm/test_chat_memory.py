"""`use_memory` in chat, against the Ollama double: facts go into the prompt, facts the model
extracts afterwards are stored, and an extraction that is not the schema is ignored."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.fakes.ollama import FakeOllama, serve_fake_ollama
from tests.harness import LiveAgent, live_agent, make_settings

# One agent for the module, so the embedding model loads once.
pytestmark = pytest.mark.asyncio(loop_scope="module")

MODEL = "qwen2.5:0.5b"
ANSWER = "Noted, thank you."
# The first encode loads the embedding model.
MODEL_LOAD_S = 120.0


class Script:
    """What the double answers: the chat's answer, or the scripted extraction when the
    agent asks for facts (its extraction prompt starts with the known facts)."""

    def __init__(self) -> None:
        self.extraction = '{"facts": []}'

    def __call__(self, text: str) -> str:
        return self.extraction if text.startswith("Known facts:") else ANSWER


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    script = Script()
    fake = FakeOllama(models=[MODEL], reply=script)
    home = tmp_path_factory.mktemp("chat-memory")
    async with (
        serve_fake_ollama(fake) as ollama,
        live_agent(make_settings(home, ollama_url=ollama.url)) as agent,
        agent.client(timeout=MODEL_LOAD_S) as client,
    ):

        async def models_known() -> bool:
            return bool((await client.get("/api/llm/status")).json()["models"])

        await _until(models_known, 10, "the double's models")
        yield agent, fake, script


async def _until(check: Callable[[], Awaitable[Any]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {within}s waiting for {what}"
        await asyncio.sleep(0.05)


async def _chat(client: httpx.AsyncClient, text: str, **extra: Any) -> dict[str, Any]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "stream": False}
    response = await client.post("/api/llm/chat", json={**body, "use_memory": True, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _facts(client: httpx.AsyncClient, history: bool = False) -> list[dict[str, Any]]:
    params = {"include_superseded": "true"} if history else {}
    return list((await client.get("/api/memory", params=params)).json()["facts"])


async def _extractions(client: httpx.AsyncClient, outcome: str) -> float:
    for family in (await client.get("/api/metrics")).json()["metrics"]:
        if family["name"] == "openfabric_memory_extractions":
            for sample in family["samples"]:
                if sample["labels"].get("outcome") == outcome and sample["name"].endswith("_total"):
                    return float(sample["value"])
    return 0.0


def _extraction_requests(fake: FakeOllama) -> list[dict[str, Any]]:
    return [
        r.body
        for r in fake.requests
        if r.path == "/api/chat"
        and str(r.body["messages"][-1]["content"]).startswith("Known facts:")
    ]


async def test_facts_go_into_the_prompt_and_new_ones_are_stored(setup: Any) -> None:
    agent, fake, script = setup
    async with agent.client(timeout=MODEL_LOAD_S) as client:
        added = await client.post(
            "/api/memory", json={"text": "The user's editor is Helix", "key": "user.editor"}
        )
        assert added.status_code == 201, added.text
        editor = added.json()["fact"]
        script.extraction = json.dumps(
            {"facts": [{"text": "The user lives in Lisbon", "key": "user.city"}]}
        )
        answer = await _chat(client, "Which editor do I use? By the way, I live in Lisbon now.")
        assert editor["id"] in [f["id"] for f in answer["facts"]]
        asked = next(
            r.body
            for r in reversed(fake.requests)
            if r.path == "/api/chat" and r.body["messages"][-1]["content"].startswith("Which")
        )
        system = [m["content"] for m in asked["messages"] if m["role"] == "system"]
        assert any("The user's editor is Helix" in s and editor["id"] in s for s in system)

        async def stored() -> dict[str, Any] | None:
            found = [f for f in await _facts(client) if f["text"] == "The user lives in Lisbon"]
            return found[0] if found else None

        await _until(stored, 30, "the extracted fact")
        fact = await stored()
        assert fact is not None
        assert (fact["source"], fact["key"]) == ("chat", "user.city")
        extraction = _extraction_requests(fake)[-1]
        # Ollama's structured outputs: the schema goes with the request.
        assert extraction["format"]["properties"]["facts"]["type"] == "array"
        assert "The user's editor is Helix" in extraction["messages"][-1]["content"]


async def test_a_correction_from_the_chat_supersedes_the_old_fact(setup: Any) -> None:
    agent, _, script = setup
    async with agent.client(timeout=MODEL_LOAD_S) as client:
        old = (await client.post("/api/memory", json={"text": "The user drinks tea"})).json()
        old_id = old["fact"]["id"]
        script.extraction = json.dumps(
            {"facts": [{"text": "The user drinks coffee, not tea", "replaces": [old_id]}]}
        )
        await _chat(client, "Actually I switched: I drink coffee now, not tea.")

        async def superseded() -> bool:
            history = {f["id"]: f for f in await _facts(client, history=True)}
            return history.get(old_id, {}).get("superseded_by") is not None

        await _until(superseded, 30, "the old fact to be superseded")
        active = [f["text"] for f in await _facts(client)]
        assert "The user drinks coffee, not tea" in active
        assert "The user drinks tea" not in active


@pytest.mark.parametrize(
    "malformed",
    [
        "I think the user likes cats",
        '{"facts": [{"text": "half"',
        '{"facts": [{"text": 5}]}',
        '{"facts": [{"text": "ok", "extra": true}]}',
        '{"facts": [{"text": "' + "x" * 3000 + '"}]}',
    ],
)
async def test_malformed_extractions_are_ignored_and_counted(setup: Any, malformed: str) -> None:
    agent, _, script = setup
    async with agent.client(timeout=MODEL_LOAD_S) as client:
        before_facts = await _facts(client, history=True)
        before = await _extractions(client, "malformed")
        script.extraction = malformed
        await _chat(client, "My cat is called Miso.")

        async def counted() -> bool:
            return await _extractions(client, "malformed") == before + 1

        await _until(counted, 30, "the malformed extraction to be counted")
        assert await _facts(client, history=True) == before_facts


async def test_learn_false_asks_for_no_facts(setup: Any) -> None:
    agent, fake, script = setup
    async with agent.client(timeout=MODEL_LOAD_S) as client:
        script.extraction = json.dumps({"facts": [{"text": "The user owns a boat"}]})
        asked_before = len(_extraction_requests(fake))
        answer = await _chat(client, "I own a boat.", memory={"learn": False, "k": 2})
        assert len(answer["facts"]) <= 2
        # A chat that learns afterwards runs its extraction after this one's; had the first
        # asked for facts, its extraction would come first (and store the boat).
        script.extraction = '{"facts": []}'
        await _chat(client, "Hello again.")

        async def second_extracted() -> bool:
            return len(_extraction_requests(fake)) == asked_before + 1

        await _until(second_extracted, 30, "the second chat's extraction")
        assert "Hello again." in _extraction_requests(fake)[-1]["messages"][-1]["content"]
        assert "The user owns a boat" not in [f["text"] for f in await _facts(client)]


async def test_use_memory_without_a_user_message_is_refused(setup: Any) -> None:
    agent: LiveAgent = setup[0]
    async with agent.client() as client:
        body = {"model": MODEL, "messages": [{"role": "system", "content": "x"}]}
        response = await client.post("/api/llm/chat", json={**body, "use_memory": True})
        assert response.status_code == 400
        assert response.json()["error_code"] == "VALIDATION_ERROR"


async def _replayed(client: httpx.AsyncClient, topics: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params = {"topics": topics, "last_event_id": "0"}
    async with client.stream("GET", "/api/events", params=params) as response:
        topic = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                topic = line[7:]
            elif line.startswith("data: ") and topic is not None:
                if topic == "stream.replayed":
                    break
                found.append(json.loads(line[6:]))
    return found


async def test_each_generation_is_published_with_its_tokens(setup: Any) -> None:
    agent, _, script = setup
    async with agent.client(timeout=MODEL_LOAD_S) as client:
        script.extraction = '{"facts": []}'
        before = len(await _replayed(client, "llm.generated"))
        answer = await _chat(client, "Count my tokens, please.")

        async def both() -> list[dict[str, Any]] | None:
            events = (await _replayed(client, "llm.generated"))[before:]
            return events if len(events) == 2 else None

        await _until(both, 30, "the chat's and the extraction's llm.generated events")
        chat, extraction = (await _replayed(client, "llm.generated"))[before:]
        assert chat["purpose"] == "chat"
        assert chat["completion_tokens"] == answer["completion_tokens"] > 0
        assert (chat["model"], chat["node_id"]) == (MODEL, answer["node_id"])
        assert extraction["purpose"] == "memory"
