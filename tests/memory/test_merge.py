"""Taking fact versions from members: last writer wins with tombstones, concurrent adds with
one key resolve the same way on every node, and hostile versions (future stamps, unknown
writers, malformed or oversized bodies) change nothing and are counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.core.recollection import FactClaim
from agent.memory.merge import TOMBSTONE_TTL_S
from agent.memory.wire import MAX_BATCH, FactVersion
from tests.memory.kit import NODE, PEER, START, Node, memory_node

OTHER = "nodeother"


def version(fact_id: str, modified: float, **fields: Any) -> FactVersion:
    data: dict[str, Any] = {
        "id": fact_id,
        "modified": modified,
        "writer": PEER,
        "deleted": False,
        "text": f"fact {fact_id}",
        "key": None,
        "tags": [],
        "source": "manual",
        "session_id": None,
        "node_id": PEER,
        "created_at": modified,
        "superseded_by": None,
        "superseded_at": None,
        **fields,
    }
    return FactVersion.model_validate(data)


def tombstone(fact_id: str, modified: float, **fields: Any) -> FactVersion:
    return version(fact_id, modified, deleted=True, text="", **fields)


async def test_the_newest_version_wins_and_a_tombstone_beats_older_versions(bare: Node) -> None:
    fact = "a" * 32
    assert await bare.merger.merge([version(fact, START, text="I live in Paris")], PEER) == 1
    assert await bare.merger.merge([tombstone(fact, START + 10)], PEER) == 1
    # Older versions arriving late (the add, a supersession) never bring it back.
    late = [
        version(fact, START, text="I live in Paris"),
        version(fact, START + 5, superseded_by="b" * 32, superseded_at=START + 5),
    ]
    assert await bare.merger.merge(late, PEER) == 0
    assert (await bare.service.listing(True)).count == 0
    [kept] = await bare.all_versions()
    assert kept.deleted
    assert kept.modified == START + 10
    topics = [t for t, _ in bare.events()]
    assert topics == ["memory.fact.added", "memory.fact.removed"]


async def test_a_tombstone_of_an_unknown_fact_keeps_it_out(bare: Node) -> None:
    fact = "c" * 32
    assert await bare.merger.merge([tombstone(fact, START + 1)], PEER) == 1
    assert await bare.merger.merge([version(fact, START)], PEER) == 0
    assert (await bare.service.listing(True)).count == 0
    assert bare.events() == []


async def test_equal_stamps_are_ordered_by_writer(bare: Node) -> None:
    fact = "d" * 32
    await bare.merger.merge([version(fact, START, text="by the peer")], PEER)
    await bare.merger.merge([version(fact, START, writer=OTHER, text="by the other")], PEER)
    await bare.merger.merge([version(fact, START, text="by the peer")], PEER)
    [record] = await bare.all_versions()
    assert (record.writer, record.text) == (PEER, "by the peer")  # "nodepeer" > "nodeother"


async def test_a_local_change_outranks_the_version_it_changes_whatever_the_clock(
    bare: Node,
) -> None:
    fact = "e" * 32
    # Written by a member whose clock runs a minute ahead of this node's.
    await bare.merger.merge([version(fact, START + 60, text="I live in Paris", key="home")], PEER)
    [done] = await bare.service.remember(
        [FactClaim("I live in Berlin", key="home")], source="manual", session_id=None
    )
    assert done.superseded == (fact,)
    old = await bare.book.store.get(fact)
    assert old is not None
    assert old.modified > START + 60
    assert old.writer == NODE
    await bare.service.delete(done.id)
    assert (await bare.service.listing(False)).count == 0


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (version("f" * 32, START + 301), "future"),
        (version("f" * 32, START, created_at=START + 10_000), "future"),
        (tombstone("f" * 32, START + 400), "future"),
        (version("f" * 32, START, writer="nodestranger"), "unknown_writer"),
        (version("f" * 32, START, node_id="nodestranger"), "unknown_writer"),
    ],
)
async def test_implausible_versions_are_refused_and_counted(
    bare: Node, bad: FactVersion, reason: str
) -> None:
    await bare.merger.merge([version("f" * 32, START - 1, text="the real one")], PEER)
    before = await bare.all_versions()
    assert await bare.merger.merge([bad], PEER) == 0
    assert await bare.all_versions() == before
    assert bare.refusals(reason) == 1


async def test_concurrent_adds_with_one_key_resolve_the_same_on_every_node(
    tmp_path: Path,
) -> None:
    older = version("1" * 32, START, text="My editor is vim", key="editor")
    newer = version("2" * 32, START + 1, text="My editor is helix", key="editor", writer=OTHER)
    same_a = version("3" * 32, START, text="I live in Lisbon")
    same_b = version("4" * 32, START + 2, text="i live in lisbon.", writer=OTHER)
    known = {PEER, OTHER}
    async with (
        memory_node(tmp_path / "a", None, known=known) as a,
        memory_node(tmp_path / "b", None, known=known) as b,
    ):
        await a.merger.merge([older, same_a], PEER)
        await a.merger.merge([newer, same_b], OTHER)
        await b.merger.merge([same_b, newer, older, same_a], PEER)
        assert await a.all_versions() == await b.all_versions()
        assert a.book.ledger.digest == b.book.ledger.digest
        active = {f.id for f in (await a.service.listing(False)).facts}
        assert active == {newer.id, same_b.id}
        loser = await a.book.store.get(older.id)
        assert loser is not None
        assert loser.superseded_by == newer.id
        assert ("memory.fact.superseded", {"id": older.id, "superseded_by": newer.id}) in (
            a.events()
        )


async def test_expired_tombstones_are_purged_and_not_taken_again(bare: Node) -> None:
    fact = "9" * 32
    await bare.merger.merge([version(fact, START - 10)], PEER)
    await bare.merger.merge([tombstone(fact, START)], PEER)
    await bare.replicator.purge()
    assert len(bare.book.ledger) == 1
    bare.clock.now = START + TOMBSTONE_TTL_S + 1
    await bare.replicator.purge()
    assert len(bare.book.ledger) == 0
    assert await bare.all_versions() == []
    assert await bare.merger.merge([tombstone(fact, START)], PEER) == 0
    assert await bare.all_versions() == []


async def test_peer_routes_take_valid_pushes_and_answer_tables(bare: Node) -> None:
    facts = [version(f"{i:032x}", START + i).model_dump(mode="json") for i in range(5)]
    async with bare.peer_client() as peer:
        pushed = await peer.post("/peer/memory/facts", json={"facts": facts})
        assert pushed.status_code == 200, pushed.text
        assert pushed.json() == {"taken": 5, "digest": bare.book.ledger.digest}
        synced = await peer.post("/peer/memory/sync", json={"digest": "0-" + "0" * 32})
        assert synced.json() == {"digest": bare.book.ledger.digest}
        first = (await peer.post("/peer/memory/stamps", json={"after": "", "limit": 3})).json()
        assert [s["id"] for s in first["stamps"]] == [f["id"] for f in facts[:3]]
        assert first["more"] is True
        rest = (
            await peer.post("/peer/memory/stamps", json={"after": facts[2]["id"], "limit": 3})
        ).json()
        assert [s["id"] for s in rest["stamps"]] == [f["id"] for f in facts[3:]]
        assert rest["more"] is False
        fetched = await peer.post("/peer/memory/fetch", json={"ids": [facts[1]["id"], "f" * 32]})
        assert fetched.json()["facts"] == [{**facts[1], "cleared": False}]


def hostile_bodies() -> list[bytes]:
    good = version("5" * 32, START).model_dump(mode="json")
    bodies: list[Any] = [
        {"facts": [{**good, "id": "../../etc/passwd"}]},
        {"facts": [{**good, "id": "A" * 32}]},
        {"facts": [{**good, "writer": "Not-A-Node"}]},
        {"facts": [{**good, "modified": -1}]},
        {"facts": [{**good, "modified": 2.0**60}]},
        {"facts": [{**good, "modified": "1700000000"}]},
        {"facts": [{**good, "text": "x" * 2001}]},
        {"facts": [{**good, "text": "   "}]},
        {"facts": [{**good, "key": "bad key"}]},
        {"facts": [{**good, "tags": [f"t{i}" for i in range(17)]}]},
        {"facts": [{**good, "deleted": True}]},
        {"facts": [{**good, "cleared": True}]},
        {"facts": [{**good, "superseded_by": good["id"], "superseded_at": START}]},
        {"facts": [{**good, "superseded_by": "6" * 32}]},
        {"facts": [{**good, "vector": [0.1] * 384}]},
        {"facts": [good] * (MAX_BATCH + 1)},
        {"facts": good},
        {"facts": [good], "extra": 1},
        [good],
    ]
    raw = [json.dumps(b).encode() for b in bodies]
    return [*raw, b"{not json", b'{"facts": [' * 100 + b"]}" * 100, b"\xff\xfe"]


@pytest.mark.parametrize("body", hostile_bodies())
async def test_malformed_pushes_are_400_and_change_nothing(bare: Node, body: bytes) -> None:
    async with bare.peer_client() as peer:
        answer = await peer.post(
            "/peer/memory/facts", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 400, answer.text
    assert await bare.all_versions() == []


async def test_oversized_pushes_and_asks_are_refused(bare: Node) -> None:
    async with bare.peer_client() as peer:
        huge = await peer.post(
            "/peer/memory/facts",
            content=b'{"facts": [], "pad": "' + b"x" * (17 * 1024 * 1024) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413
        many = await peer.post("/peer/memory/fetch", json={"ids": ["7" * 32] * (MAX_BATCH + 1)})
        assert many.status_code == 400
        page = await peer.post("/peer/memory/stamps", json={"after": "", "limit": 5000})
        assert page.status_code == 400
        digest = await peer.post("/peer/memory/sync", json={"digest": "x" * 65})
        assert digest.status_code == 400
    assert await bare.all_versions() == []
