"""Search across a cluster of three real agents, each indexing its own folder with the real
model: every online member is searched and named in the hits, a member that goes offline is
named as not searched, and a chat with use_brain carries the passages (from any member) to
the model, with numbered sources at the end of the answer, in /api/llm/chat and in /v1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.brain.live import search, settled
from tests.fakes.ollama import FakeOllama, FakeOllamaProcess, fake_ollama_process
from tests.harness import AgentProcess, agent_process, call, form_cluster, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
MODEL = "llama3.2:3b"
FOLDERS = {
    "alpha": {"boat.md": "# Boat\n\nThe sailing dinghy is moored at pier seven in Cascais.\n"},
    "bravo": {"wifi.md": "# Router\n\nThe guest wifi password is printed under the router.\n"},
    "charlie": {"vet.txt": "The cat's vaccination appointment is on the fourth of May.\n"},
}
FAST = ("--heartbeat-interval", "0.2", "--suspect-after", "1", "--offline-after", "2")


@dataclass
class Trio:
    alpha: AgentProcess
    bravo: AgentProcess
    charlie: AgentProcess
    ollama: FakeOllamaProcess
    folders: dict[str, Path]


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trio]:
    root = tmp_path_factory.mktemp("trio")
    folders: dict[str, Path] = {}
    for name, files in FOLDERS.items():
        folders[name] = root / f"docs-{name}"
        folders[name].mkdir()
        for file, text in files.items():
            (folders[name] / file).write_text(text)

    def start(name: str, *extra: str) -> AbstractContextManager[AgentProcess]:
        env = {"OPENFABRIC_BRAIN_PATHS": str(folders[name])}
        return agent_process(root / name, "--node-name", name, *FAST, *extra, env=env)

    with ExitStack() as stack:
        ollama = stack.enter_context(
            fake_ollama_process(root / "ollama.json", FakeOllama(models=[MODEL]))
        )
        alpha = stack.enter_context(start("alpha", "--ollama-url", ollama.url))
        bravo = stack.enter_context(start("bravo"))
        charlie = stack.enter_context(start("charlie"))
        form_cluster([alpha, bravo, charlie])
        for agent in (alpha, bravo, charlie):
            settled(agent)
        yield Trio(alpha, bravo, charlie, ollama, folders)


def names(answer: dict[str, object]) -> set[str]:
    return {hit["node_name"] for hit in answer["hits"]}  # type: ignore[index, union-attr]


def test_a_search_on_any_member_covers_every_member(trio: Trio) -> None:
    for agent in (trio.alpha, trio.charlie):
        answer = search(agent, "boat wifi password vaccination", mode="lexical", k=10)
        assert names(answer) == {"alpha", "bravo", "charlie"}
        assert len(answer["searched"]) == 3
        assert answer["not_searched"] == []
    hit = search(trio.alpha, "where is the sailing boat kept", mode="vector", k=1)["hits"][0]
    assert (hit["node_name"], hit["path"]) == ("alpha", str(trio.folders["alpha"] / "boat.md"))
    remote = search(trio.alpha, "what is the network key for visitors", k=1)["hits"][0]
    assert (remote["node_name"], remote["path"]) == (
        "bravo",
        str(trio.folders["bravo"] / "wifi.md"),
    )
    bravo_id = remote["node_id"]
    only = search(trio.alpha, "boat wifi vaccination", mode="lexical", node=bravo_id)
    assert names(only) == {"bravo"}
    assert only["searched"] == [bravo_id]


def test_chat_with_use_brain_cites_passages_from_the_cluster(trio: Trio) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "What is the guest wifi password?"}],
        "use_brain": True,
        "brain": {"k": 2},
    }
    events: list[tuple[str, dict[str, object]]] = []
    with httpx.stream(
        "POST",
        trio.alpha.url + "/api/llm/chat",
        json=body,
        headers=trio.alpha.headers(),
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind:
                events.append((kind, json.loads(line[6:])))
    done = events[-1]
    assert done[0] == "done"
    sources = done[1]["sources"]
    assert isinstance(sources, list)
    assert len(sources) == 2
    first = sources[0]
    assert (first["n"], first["node_name"]) == (1, "bravo")
    assert first["path"] == str(trio.folders["bravo"] / "wifi.md")
    assert (first["start_line"], first["end_line"], first["heading"]) == (3, 3, ["Router"])
    # The model received the passage, numbered, after the instruction.
    prompt = trio.ollama.stats()["last_chat"]["messages"]
    assert prompt[0]["role"] == "system"
    assert "[1] bravo:" in prompt[0]["content"]
    assert "printed under the router" in prompt[0]["content"]
    assert prompt[-1] == {"role": "user", "content": "What is the guest wifi password?"}


def test_the_openai_endpoint_takes_use_brain_as_an_extra_field(trio: Trio) -> None:
    client = openai.OpenAI(base_url=trio.alpha.url + "/v1", api_key=trio.alpha.token)
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "When is the cat's vaccination?"}],
        extra_body={"use_brain": True, "brain": {"k": 1}},
    )
    sources = (reply.model_extra or {})["sources"]
    assert [(s["n"], s["node_name"]) for s in sources] == [(1, "charlie")]
    assert "fourth of May" in trio.ollama.stats()["last_chat"]["messages"][0]["content"]


def test_bad_brain_options_in_chat_are_refused(trio: Trio) -> None:
    base = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    for extra, code in (
        ({"brain": {"k": 2}}, "VALIDATION_ERROR"),
        ({"use_brain": True, "brain": {"k": 0}}, "VALIDATION_ERROR"),
        ({"use_brain": True, "brain": {"node": "nobody"}}, "NODE_NOT_FOUND"),
    ):
        response = call(trio.alpha, "POST", "/api/llm/chat", json={**base, **extra})
        assert response.status_code in (400, 404), response.text
        assert response.json()["error_code"] == code


def test_an_offline_member_is_named_as_not_searched(trio: Trio) -> None:
    charlie_id = trio.charlie.info["node_id"]
    trio.charlie.stop()

    def offline() -> bool:
        answer = search(trio.alpha, "boat wifi vaccination", mode="lexical")
        return charlie_id in {n["node_id"] for n in answer["not_searched"]}

    wait_until(offline, 30, "charlie to be named as not searched")
    answer = search(trio.alpha, "boat wifi vaccination", mode="lexical")
    assert names(answer) == {"alpha", "bravo"}
    (missing,) = answer["not_searched"]
    assert missing["name"] == "charlie"
    assert missing["reason"] in ("suspect", "offline") or "unreachable" in missing["reason"]


def test_a_session_keeps_the_sources_of_each_answer(trio: Trio) -> None:
    session = call(trio.alpha, "POST", "/api/llm/sessions", json={"title": "boat"}).json()
    body = {
        "model": MODEL,
        "session_id": session["session_id"],
        "message": "Where is the dinghy moored?",
        "use_brain": True,
        "stream": False,
    }
    answer = call(trio.alpha, "POST", "/api/llm/chat", json=body).json()
    assert answer["sources"][0]["node_name"] == "alpha"
    stored = call(trio.alpha, "GET", f"/api/llm/sessions/{session['session_id']}").json()
    user, reply = stored["messages"]
    assert user["content"] == "Where is the dinghy moored?"  # as asked, without the passages
    assert reply["stats"]["sources"] == answer["sources"]
