"""Never pile up, never lose: the same fact twice is one fact, a correction supersedes the
old one (kept in history), a contradiction keeps the new fact, nothing is deleted except by a
delete call. Includes the cases mem0's users report."""

from __future__ import annotations

import pytest

from agent.core.errors import ApiError
from agent.core.recollection import FactClaim
from tests.memory.kit import Node


async def remember(node: Node, *claims: FactClaim) -> list[tuple[str, str, tuple[str, ...]]]:
    done = await node.service.remember(list(claims), source="chat", session_id="s1")
    return [(d.id, d.outcome, d.superseded) for d in done]


async def active_texts(node: Node) -> list[str]:
    return [f.text for f in (await node.service.listing(False)).facts]


async def test_the_same_fact_twice_is_one_active_fact_and_nothing_is_deleted(node: Node) -> None:
    [(first, outcome, _)] = await remember(node, FactClaim("My editor is vim"))
    assert outcome == "created"
    for again in ("My editor is vim", "my editor  is VIM!", "My editor is vim."):
        [(same, outcome, superseded)] = await remember(node, FactClaim(again))
        assert (same, outcome, superseded) == (first, "existing", ())
    assert await active_texts(node) == ["My editor is vim"]
    everything = await node.all_versions()
    assert [(r.id, r.deleted, r.superseded_by) for r in everything] == [(first, False, None)]
    assert [t for t, _ in node.events()] == ["memory.fact.added"]


async def test_a_correction_by_key_supersedes_and_keeps_history(node: Node) -> None:
    [(old, _, _)] = await remember(node, FactClaim("My editor is vim", key="user.editor"))
    [(new, outcome, superseded)] = await remember(
        node, FactClaim("My editor is emacs", key="user.editor")
    )
    assert (outcome, superseded) == ("superseded", (old,))
    assert await active_texts(node) == ["My editor is emacs"]
    history = {f.id: f for f in (await node.service.listing(True)).facts}
    assert history[old].superseded_by == new
    assert history[old].superseded_at == history[new].created_at
    assert history[new].superseded_by is None
    assert ("memory.fact.superseded", {"id": old, "superseded_by": new}) in node.events()


async def test_a_contradiction_through_replaces_keeps_the_new_fact(node: Node) -> None:
    [(paris, _, _)] = await remember(node, FactClaim("I live in Paris"))
    [(berlin, outcome, superseded)] = await remember(
        node, FactClaim("I live in Berlin", replaces=(paris,))
    )
    assert (outcome, superseded) == ("superseded", (paris,))
    assert await active_texts(node) == ["I live in Berlin"]
    history = {f.id: f.superseded_by for f in (await node.service.listing(True)).facts}
    assert history == {paris: berlin, berlin: None}


async def test_a_correction_without_key_or_replaces_is_a_new_fact_not_dropped(node: Node) -> None:
    await remember(node, FactClaim("I live in Paris"))
    [(_, outcome, _)] = await remember(node, FactClaim("I live in Berlin"))
    assert outcome == "created"
    assert sorted(await active_texts(node)) == ["I live in Berlin", "I live in Paris"]


async def test_unknown_or_inactive_replaces_are_ignored(node: Node) -> None:
    [(a, _, _)] = await remember(node, FactClaim("I have a cat", key="pets"))
    [(b, _, _)] = await remember(node, FactClaim("I have a dog", key="pets"))
    [(c, outcome, superseded)] = await remember(
        node, FactClaim("I own a parrot", replaces=(a, "0" * 32, "not an id"))
    )
    assert (outcome, superseded) == ("created", ())
    assert sorted(await active_texts(node)) == ["I have a dog", "I own a parrot"]
    assert c not in (a, b)


async def test_same_text_is_existing_even_with_a_key_and_changes_nothing(node: Node) -> None:
    [(first, _, _)] = await remember(node, FactClaim("My shell is zsh", key="user.shell"))
    before = await node.all_versions()
    [(same, outcome, _)] = await remember(node, FactClaim("my shell is zsh", key="user.shell"))
    assert (same, outcome) == (first, "existing")
    assert await node.all_versions() == before


async def test_a_batch_sees_its_own_claims(node: Node) -> None:
    done = await remember(
        node,
        FactClaim("My editor is vim", key="user.editor"),
        FactClaim("My editor is vim"),
        FactClaim("My editor is helix", key="user.editor"),
    )
    (vim, created, _), (same, existing, _), (_helix, superseded, replaced) = done
    assert (created, existing, superseded) == ("created", "existing", "superseded")
    assert same == vim
    assert replaced == (vim,)
    assert await active_texts(node) == ["My editor is helix"]


async def test_a_bad_claim_stores_nothing_of_its_batch(node: Node) -> None:
    bad = [
        FactClaim("x" * 2001),
        FactClaim(""),
        FactClaim(" ... "),
        FactClaim("ok", key="has space"),
        FactClaim("ok", tags=tuple(f"t{i}" for i in range(17))),
        FactClaim("ok", tags=("x" * 65,)),
        FactClaim("ok", replaces=tuple("0" * 32 for _ in range(17))),
        FactClaim("nul\0inside"),
        FactClaim("lone \ud800 surrogate"),
        FactClaim(42),  # type: ignore[arg-type]
    ]
    for claim in bad:
        with pytest.raises(ApiError) as raised:
            await remember(node, FactClaim("A good fact"), claim)
        assert raised.value.status == 400, claim
    with pytest.raises(ApiError):
        await node.service.remember([FactClaim("ok")], source="chat", session_id="s" * 129)
    assert await node.all_versions() == []
    assert node.events() == []


async def test_a_full_memory_refuses_new_facts_but_answers_existing_ones(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    [(kept, _, _)] = await remember(node, FactClaim("The first fact"))
    monkeypatch.setattr("agent.memory.service.MAX_FACTS", 1)
    with pytest.raises(ApiError) as raised:
        await remember(node, FactClaim("Another fact entirely"))
    assert (raised.value.status, raised.value.code) == (409, "MEMORY_FULL")
    assert await remember(node, FactClaim("the first fact!")) == [(kept, "existing", ())]
    assert await active_texts(node) == ["The first fact"]


async def test_delete_leaves_a_tombstone_and_unknown_ids_are_404(node: Node) -> None:
    [(fact, _, _)] = await remember(node, FactClaim("My editor is vim"))
    removed = await node.service.delete(fact)
    assert (removed.id, removed.removed) == (fact, True)
    assert await active_texts(node) == []
    [tombstone] = await node.all_versions()
    assert (tombstone.id, tombstone.deleted, tombstone.text) == (fact, True, "")
    for unknown in (fact, "0" * 32, "../../etc", ""):
        with pytest.raises(ApiError) as raised:
            await node.service.delete(unknown)
        assert (raised.value.status, raised.value.code) == (404, "FACT_NOT_FOUND")
    # The same text again is a new fact: the deleted one stays deleted.
    [(again, outcome, _)] = await remember(node, FactClaim("My editor is vim"))
    assert outcome == "created"
    assert again != fact


async def test_clear_tombstones_everything_history_included(node: Node) -> None:
    await remember(node, FactClaim("My editor is vim", key="e"), FactClaim("I live in Paris"))
    await remember(node, FactClaim("My editor is emacs", key="e"))
    cleared = await node.service.clear()
    assert cleared.removed == 3
    assert (await node.service.listing(True)).count == 0
    assert all(r.deleted and r.cleared for r in await node.all_versions())
    assert node.events()[-1] == ("memory.cleared", {"removed": 3})
    assert (await node.service.clear()).removed == 0
