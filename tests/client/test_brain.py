"""The SDK's brain calls against one real agent indexing a small folder of documents, and the
stream faults a real agent does not produce on cue (httpx MockTransport).

The agent is shared by the module (its embedding model takes seconds to load): tests that
change the index use files or folders of their own, and put the source list back.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from agent.brain.models import SearchMode
from agent.client import (
    AgentClient,
    ApiError,
    BrainForgotten,
    BrainSearchAnswer,
    ReindexProgress,
    StreamEndedEarly,
)
from tests.client.llm_answers import DONE, sse, streaming
from tests.harness import AgentProcess, agent_process, call, wait_until

# Generous: the first scan loads the embedding model, slow on a busy machine.
pytestmark = pytest.mark.timeout(240)
DOCS = {
    "networking.md": "# Networking\n\n## WireGuard\n\nWireGuard builds encrypted tunnels between "
    "peers, each identified by a Curve25519 public key.\n",
    "garden.txt": "Tomatoes want six hours of direct sunlight a day and deep watering twice a "
    "week.\n",
    "kitchen/bread.md": "# Baking\n\n## Sourdough\n\nFeed the starter the night before, mix "
    "flour, water and salt, and let the dough rise slowly.\n",
    "notes/attic.txt": "A zebra-striped xylophone waits in the attic for the next party.\n",
}
PROGRESS = {
    "files_seen": 2,
    "files_done": 1,
    "chunks_embedded": 3,
    "chunks_reused": 0,
    "skipped": 0,
    "removed": 0,
    "rate": 10.0,
    "elapsed_s": 0.3,
    "done": False,
}


def write_docs(root: Path, docs: dict[str, str]) -> Path:
    for name, text in docs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def settled(agent: AgentProcess, files: int) -> bool:
    """The index holds `files` files and has nothing left to do."""
    status = call(agent, "GET", "/api/brain/status").json()
    return bool(status["files"] == files and status["queue"] == 0 and not status["indexing"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_docs(tmp_path_factory.mktemp("brain-sdk") / "docs", DOCS)


@pytest.fixture(scope="module")
def agent(corpus: Path) -> Iterator[AgentProcess]:
    home = corpus.parent / "agent-home"
    with agent_process(home, env={"OPENFABRIC_BRAIN_PATHS": str(corpus)}) as started:
        wait_until(lambda: settled(started, len(DOCS)), 180, "the first scan to index the docs")
        yield started


@pytest.fixture
async def client(agent: AgentProcess) -> AsyncIterator[AgentClient]:
    async with AgentClient(agent.url, agent.token) as sdk:
        yield sdk


def paths(found: BrainSearchAnswer) -> list[str]:
    return [hit.path for hit in found.hits]


async def reindexed(client: AgentClient, **kwargs: Any) -> list[ReindexProgress]:
    return [step async for step in client.brain_reindex(**kwargs)]


# --- status and search ---------------------------------------------------------------------


async def test_status_counts_the_source(client: AgentClient, corpus: Path) -> None:
    status = await client.brain_status()
    assert status.available
    assert status.model_loaded
    assert status.dimensions == 384
    (source,) = status.sources
    assert (source.path, source.exists, source.files) == (str(corpus), True, len(DOCS))
    assert status.chunks == source.chunks >= len(DOCS)
    assert status.files == len(DOCS)
    assert status.queue == 0
    assert sum(status.skipped.values()) == 0
    assert status.skipped_files == []


@pytest.mark.parametrize(
    ("mode", "query", "expected"),
    [
        ("vector", "a private network link between two computers", "networking.md"),
        ("lexical", "sourdough starter", "kitchen/bread.md"),
        ("hybrid", "how much sun do tomato plants need", "garden.txt"),
    ],
)
async def test_each_mode_finds_the_passage(
    client: AgentClient, corpus: Path, mode: SearchMode, query: str, expected: str
) -> None:
    found = await client.brain_search(query, k=3, mode=mode)
    status = await client.brain_status()
    assert (found.query, found.mode, found.k, found.count) == (query, mode, 3, len(found.hits))
    assert 1 <= found.count <= 3
    assert found.searched == [status.node_id]
    assert found.not_searched == []
    best = found.hits[0]
    target = corpus / expected
    assert best.path == str(target)
    assert best.content_hash == hashlib.sha256(target.read_bytes()).hexdigest()
    assert best.node_id == status.node_id
    assert 1 <= best.start_line <= best.end_line <= len(target.read_text().splitlines())
    assert [h.score for h in found.hits] == sorted((h.score for h in found.hits), reverse=True)


async def test_search_keeps_the_headings(client: AgentClient) -> None:
    found = await client.brain_search("Curve25519 public key", mode="lexical", k=1)
    assert found.hits[0].heading == ["Networking", "WireGuard"]
    assert "Curve25519" in found.hits[0].text


async def test_search_narrows_to_a_prefix_and_a_node(client: AgentClient, corpus: Path) -> None:
    node_id = (await client.brain_status()).node_id
    kitchen = str(corpus / "kitchen")
    found = await client.brain_search("water", k=10, path=kitchen, node=node_id)
    assert found.hits
    assert all(p.startswith(kitchen) for p in paths(found))
    assert found.searched == [node_id]
    with pytest.raises(ApiError) as caught:
        await client.brain_search("water", node="f" * 64)
    assert (caught.value.status, caught.value.code) == (404, "NODE_NOT_FOUND")


@pytest.mark.parametrize(
    ("q", "k", "mode"),
    [("", 10, "hybrid"), ("bread", 0, "hybrid"), ("bread", 51, "vector"), ("bread", 5, "fuzzy")],
)
async def test_bad_searches_are_refused(client: AgentClient, q: str, k: int, mode: str) -> None:
    with pytest.raises(ApiError) as caught:
        await client.brain_search(q, k=k, mode=cast(SearchMode, mode))
    assert (caught.value.status, caught.value.code) == (400, "VALIDATION_ERROR")


# --- reindex -------------------------------------------------------------------------------


async def test_reindex_streams_progress_then_done(client: AgentClient) -> None:
    steps = await reindexed(client)
    *progress, done = steps
    assert done.done
    assert not any(step.done for step in progress)
    assert done.files_seen == done.files_done == len(DOCS)
    assert done.chunks_embedded == 0  # nothing changed: nothing is encoded again
    seen = [step.files_done for step in steps]
    assert seen == sorted(seen)


async def test_reindex_of_one_path_takes_its_change(
    agent: AgentProcess, client: AgentClient, corpus: Path
) -> None:
    changed = corpus / "garden.txt"
    changed.write_text(DOCS["garden.txt"] + "Basil grows well next to them.\n", encoding="utf-8")
    try:
        *_, done = await reindexed(client, paths=[changed])
        assert done.done
        assert done.files_seen == 1
        found = await client.brain_search("basil", mode="lexical")
        assert paths(found) == [str(changed)]
    finally:
        changed.write_text(DOCS["garden.txt"], encoding="utf-8")
        await reindexed(client, paths=[str(changed)])
    assert (await client.brain_search("basil", mode="lexical")).hits == []


async def test_sources_are_replaced_and_put_back(
    agent: AgentProcess, client: AgentClient, corpus: Path
) -> None:
    extra = write_docs(corpus.parent / "extra", {"moths.md": "# Moths\n\nLuna moths glow.\n"})
    try:
        *_, done = await reindexed(client, sources=[corpus, extra])
        assert done.done
        assert done.chunks_embedded >= 1
        status = await client.brain_status()
        assert [s.path for s in status.sources] == [str(corpus), str(extra)]
        assert paths(await client.brain_search("luna moths", mode="lexical")) == [
            str(extra / "moths.md")
        ]
    finally:
        *_, done = await reindexed(client, sources=[str(corpus)])
    assert done.done
    assert [s.path for s in (await client.brain_status()).sources] == [str(corpus)]
    assert (await client.brain_search("luna moths", mode="lexical")).hits == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"paths": ["/nowhere/else.md"]}, "PATH_OUTSIDE_SOURCES"),
        ({"paths": ["docs/garden.txt"]}, "INVALID_PATH"),
        ({"sources": ["/nowhere/at/all"]}, "SOURCE_NOT_FOUND"),
    ],
)
async def test_reindex_refusals_come_before_the_stream(
    client: AgentClient, body: dict[str, list[str]], code: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await reindexed(client, **body)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert len((await client.brain_status()).sources) == 1


# --- forget --------------------------------------------------------------------------------


async def test_forget_drops_a_file_and_then_knows_nothing_of_it(
    client: AgentClient, corpus: Path
) -> None:
    attic = corpus / "notes" / "attic.txt"
    digest = hashlib.sha256(attic.read_bytes()).hexdigest()
    assert paths(await client.brain_search("xylophone", mode="lexical")) == [str(attic)]
    forgotten = await client.brain_forget(digest)
    assert isinstance(forgotten, BrainForgotten)
    assert (forgotten.content_hash, forgotten.paths) == (digest, [str(attic)])
    assert forgotten.chunks >= 1
    assert (await client.brain_search("xylophone", mode="lexical")).hits == []
    with pytest.raises(ApiError) as caught:
        await client.brain_forget(digest)
    assert (caught.value.status, caught.value.code) == (404, "HASH_NOT_FOUND")


@pytest.mark.parametrize("bad", ["abc", "A" * 64, "g" * 64, "a" * 65])
async def test_forget_refuses_what_is_not_a_hash(client: AgentClient, bad: str) -> None:
    with pytest.raises(ApiError) as caught:
        await client.brain_forget(bad)
    assert (caught.value.status, caught.value.code) == (400, "INVALID_HASH")


# --- what a real agent does not do on cue ------------------------------------------------------


def answering_sse(body: bytes) -> AgentClient:
    headers = {"content-type": "text/event-stream"}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=body, headers=headers))
    return AgentClient("http://agent.test", "secret", transport=transport)


async def test_a_reindex_stream_without_done_ends_early() -> None:
    steps: list[ReindexProgress] = []

    async def follow(client: AgentClient) -> None:
        async for step in client.brain_reindex():
            steps.append(step)

    async with answering_sse(sse(("progress", PROGRESS))) as client:
        with pytest.raises(StreamEndedEarly, match="before the scan was done"):
            await follow(client)
    assert steps == [ReindexProgress.model_validate(PROGRESS)]


async def test_a_reindex_error_event_raises_its_code() -> None:
    failed = {"error": "the index is gone", "error_code": "BRAIN_UNAVAILABLE"}
    async with answering_sse(sse(("progress", PROGRESS), ("error", failed))) as client:
        with pytest.raises(ApiError, match=r"the index is gone \(BRAIN_UNAVAILABLE\)"):
            await reindexed(client)


async def test_a_malformed_progress_event_is_an_invalid_response() -> None:
    async with answering_sse(sse(("progress", {"files_seen": "many"}))) as client:
        with pytest.raises(ApiError) as caught:
            await reindexed(client)
    assert caught.value.code == "INVALID_RESPONSE"


async def test_chat_passes_the_brain_on() -> None:
    recorder = streaming(("done", DONE))
    brain = {"k": 3, "path": "/docs", "node": "n1"}
    async with recorder.client() as client:
        [e async for e in client.chat("m", [{"role": "user", "content": "hi"}], use_brain=True,
                                      brain=brain)]  # fmt: skip
    assert (recorder.body["use_brain"], recorder.body["brain"]) == (True, brain)
    plain = streaming(("done", DONE))
    async with plain.client() as client:
        [e async for e in client.chat("m", [{"role": "user", "content": "hi"}])]
    assert "use_brain" not in plain.body
    assert "brain" not in plain.body
