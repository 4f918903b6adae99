"""The replication protocol between in-process nodes (their real peer routes, without TLS):
pushes of each change, digest comparison, paged stamps, fetches and pushes of what differs,
and members answering nonsense."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.core.recollection import FactClaim
from tests.harness import async_wait_until
from tests.memory.kit import Node, link, memory_node

A, B, C = "nodea", "nodeb", "nodec"


async def remember(node: Node, text: str, key: str | None = None) -> str:
    [done] = await node.service.remember(
        [FactClaim(text, key=key)], source="manual", session_id=None
    )
    return done.id


async def texts(node: Node) -> set[str]:
    return {f.text for f in (await node.service.listing(False)).facts}


async def test_each_change_is_pushed_at_once(tmp_path: Path) -> None:
    async with (
        memory_node(tmp_path / "a", None, node_id=A) as a,
        memory_node(tmp_path / "b", None, node_id=B) as b,
        anyio.create_task_group() as tg,
    ):
        link(a, b)
        tg.start_soon(a.replicator.run_pushes)
        fact = await remember(a, "My editor is vim")
        await async_wait_until(lambda: b.book.ledger.stamp(fact) is not None, 5, "the push")
        assert await texts(b) == {"My editor is vim"}
        assert [t for t, _ in b.events()] == ["memory.fact.added"]
        await a.service.delete(fact)
        await async_wait_until(lambda: b.book.ledger.live == 0, 5, "the pushed delete")
        tg.cancel_scope.cancel()


async def test_a_sync_exchanges_what_differs_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small pages and batches, so the paging and batching run.
    monkeypatch.setattr("agent.memory.replication.MAX_PAGE", 3)
    monkeypatch.setattr("agent.memory.replication.MAX_BATCH", 2)
    async with (
        memory_node(tmp_path / "a", None, node_id=A) as a,
        memory_node(tmp_path / "b", None, node_id=B) as b,
    ):
        link(a, b)
        only_a = {f"Fact {i} from a" for i in range(7)}
        only_b = {f"Fact {i} from b" for i in range(5)}
        for text in only_a:
            await remember(a, text)
        for text in only_b:
            await remember(b, text)
        old = await remember(a, "I live in Paris", key="home")
        assert await a.replicator.sync_with(a.cluster.others[0], give=True)
        await remember(b, "I live in Berlin", key="home")
        assert await a.replicator.sync_with(a.cluster.others[0], give=True)
        wanted = only_a | only_b | {"I live in Berlin"}
        assert await texts(a) == wanted
        assert await texts(b) == wanted
        assert a.book.ledger.digest == b.book.ledger.digest
        assert await a.all_versions() == await b.all_versions()
        superseded = await a.book.store.get(old)
        assert superseded is not None
        assert superseded.superseded_by is not None


async def test_a_pull_takes_without_giving(tmp_path: Path) -> None:
    async with (
        memory_node(tmp_path / "a", None, node_id=A) as a,
        memory_node(tmp_path / "b", None, node_id=B) as b,
        memory_node(tmp_path / "c", None, node_id=C) as c,
    ):
        link(a, b, c)
        await remember(b, "From b")
        await remember(c, "From c")
        await remember(a, "From a")
        await a.replicator.pull_all()
        assert await texts(a) == {"From a", "From b", "From c"}
        assert await texts(b) == {"From b"}


@pytest.mark.parametrize(
    "forged",
    [
        {"digest": "0-" + "0" * 32, "stamps": "nonsense"},
        {"stamps": [{"id": "../x", "modified": 1.0, "writer": "nodeb"}], "more": False},
        {"stamps": [{"id": "e" * 32, "modified": 1.0, "writer": "nodeb"}] * 2001, "more": False},
        {"facts": [{"id": "e" * 32}]},
        {"facts": "all of them"},
    ],
)
async def test_a_member_answering_nonsense_changes_nothing(
    tmp_path: Path, forged: dict[str, Any]
) -> None:
    async with (
        memory_node(tmp_path / "a", None, node_id=A) as a,
        memory_node(tmp_path / "b", None, node_id=B) as b,
    ):
        link(a, b)
        await remember(b, "A fact of b")
        before = await a.all_versions()

        lied_on = "/peer/memory/stamps" if "stamps" in forged else "/peer/memory/fetch"

        def answer(path: str, body: dict[str, Any]) -> dict[str, Any] | None:
            return forged if path == lied_on else None

        a.replicator.peers.answer = answer  # type: ignore[attr-defined]
        assert not await a.replicator.sync_with(a.cluster.others[0], give=True)
        assert await a.all_versions() == before
