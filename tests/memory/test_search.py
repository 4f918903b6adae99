"""Search by meaning over active facts with the real model: vectors computed here and kept
per fact, re-embedded when the model changes; facts from other members are listed at once
and searchable once the background job has embedded them."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.brain.embedder import SentenceEmbedder
from agent.core.errors import ApiError
from agent.core.recollection import FactClaim
from agent.memory.wire import FactVersion
from tests.memory.kit import PEER, START, Node, memory_node

FACTS = [
    "My editor is vim",
    "I live in Lisbon",
    "The cat's vaccination is on the fourth of May",
    "I prefer answers in French",
]


async def seed(node: Node) -> dict[str, str]:
    done = await node.service.remember(
        [FactClaim(t) for t in FACTS], source="manual", session_id=None
    )
    return {t: d.id for t, d in zip(FACTS, done, strict=True)}


class Renamed:
    """The same model under another name: its stored vectors count as another model's."""

    def __init__(self, inner: SentenceEmbedder, name: str) -> None:
        self.inner = inner
        self.name = name
        self.encoded = 0

    def problem(self) -> str | None:
        return self.inner.problem()

    def encode(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.encoded += len(texts)
        return self.inner.encode(texts)


async def test_search_finds_the_fact_meant(node: Node) -> None:
    ids = await seed(node)
    answer = await node.service.search("which text editor do I use", 2)
    assert answer.hits[0].fact.id == ids["My editor is vim"]
    assert answer.count == 2
    assert answer.hits[0].score > answer.hits[1].score
    recalled = await node.service.recall("where is my home", k=1)
    assert [r.id for r in recalled] == [ids["I live in Lisbon"]]
    assert await node.service.recall("   ", k=3) == []
    assert len(await node.service.recall("anything", k=500)) == len(FACTS)


async def test_superseded_and_deleted_facts_are_not_found(node: Node) -> None:
    ids = await seed(node)
    await node.service.remember(
        [FactClaim("I live in Porto", replaces=(ids["I live in Lisbon"],))],
        source="chat",
        session_id=None,
    )
    await node.service.delete(ids["My editor is vim"])
    found = {h.fact.text for h in (await node.service.search("city I live in editor", 10)).hits}
    assert "I live in Porto" in found
    assert "I live in Lisbon" not in found
    assert "My editor is vim" not in found


async def test_without_an_encoder_search_is_unavailable_and_says_what_to_install(
    bare: Node,
) -> None:
    await bare.service.remember([FactClaim("My editor is vim")], source="manual", session_id=None)
    for call in (bare.service.search("editor", 3), bare.service.recall("editor", k=3)):
        with pytest.raises(ApiError) as raised:
            await call
        assert (raised.value.status, raised.value.code) == (503, "MEMORY_UNAVAILABLE")
        assert "openfabric[brain]" in raised.value.message
    assert (await bare.service.listing(False)).count == 1


async def test_replicated_facts_are_listed_at_once_and_searchable_once_embedded(
    node: Node,
) -> None:
    version = FactVersion(
        id="a" * 32,
        modified=START,
        writer=PEER,
        deleted=False,
        text="The spare key is under the blue flowerpot",
        key=None,
        tags=[],
        source="manual",
        session_id=None,
        node_id=PEER,
        created_at=START,
        superseded_by=None,
        superseded_at=None,
    )
    assert await node.merger.merge([version], PEER) == 1
    assert [f.id for f in (await node.service.listing(False)).facts] == [version.id]
    assert (await node.service.search("where is the spare key", 5)).hits == []
    assert await node.book.index.embed_missing() == 1
    hits = (await node.service.search("where is the spare key", 5)).hits
    assert [h.fact.id for h in hits] == [version.id]


async def test_vectors_are_kept_and_a_model_change_re_embeds(
    tmp_path: Path, encoder: SentenceEmbedder
) -> None:
    first = Renamed(encoder, "model-a")
    async with memory_node(tmp_path, first) as node:
        ids = await seed(node)
    assert first.encoded == len(FACTS)
    again = Renamed(encoder, "model-a")
    async with memory_node(tmp_path, again) as node:
        assert await node.book.index.embed_missing() == 0
        hit = (await node.service.search("text editor", 1)).hits[0]
        assert hit.fact.id == ids["My editor is vim"]
    assert again.encoded == 1  # the query only
    other = Renamed(encoder, "model-b")
    async with memory_node(tmp_path, other) as node:
        assert (await node.service.search("text editor", 1)).hits == []
        assert await node.book.index.embed_missing() == len(FACTS)
        hit = (await node.service.search("text editor", 1)).hits[0]
        assert hit.fact.id == ids["My editor is vim"]
