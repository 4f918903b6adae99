"""Replication between in-process members (real store and peer routes, without TLS): pushes
of each save, syncs both ways, what a member must refuse, and settling before owning."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.flows.peer_wire import DIGEST, FETCH, RECORDS, RUN_START
from agent.flows.records import sign_cursor, sign_record
from agent.peer.identity import load_or_create_identity
from tests.flows.cluster_kit import Member, flows_member, link
from tests.harness import async_wait_until


@asynccontextmanager
async def members(tmp_path: Path, count: int) -> AsyncIterator[list[Member]]:
    async with AsyncExitStack() as stack:
        found = [
            await stack.enter_async_context(flows_member(tmp_path / f"m{i}", f"m{i}"))
            for i in range(count)
        ]
        link(*found)
        yield found


async def post(to: Member, sender: Member | str, path: str, body: Any) -> tuple[int, Any]:
    name = sender if isinstance(sender, str) else sender.node_id
    async with to.peer_client(name) as client:
        response = await client.post(path, json=body)
    return response.status_code, response.json()


async def test_a_save_is_pushed_to_every_member(tmp_path: Path) -> None:
    async with members(tmp_path, 3) as (a, b, c), anyio.create_task_group() as tg:
        tg.start_soon(a.flows.replicator.run_pushes)
        record = a.sign(version=1)
        await a.store.merge_record(record)
        await a.flows.announce(record)
        cursor = sign_cursor(a.identity, flow_id="nightly", trigger_index=0, fired_at=time.time())
        await a.flows.announce_cursor(cursor)
        for other in (b, c):
            await async_wait_until(partial(other.store.record, "nightly"), 5, "the push")
            assert await other.store.record("nightly") == record
            assert other.service.merged == [record]
            await async_wait_until(other.store.cursors, 5, "the cursor push")
            assert await other.store.cursors() == [cursor]
        deleted = a.sign(version=2, deleted=True, source="")
        await a.store.merge_record(deleted)
        await a.flows.announce(deleted)
        await async_wait_until(lambda: _deleted(b), 5, "the delete to reach b")
        tg.cancel_scope.cancel()


async def _deleted(member: Member) -> bool:
    held = await member.store.record("nightly")
    return held is not None and held.deleted


async def test_a_sync_exchanges_what_differs_both_ways(tmp_path: Path) -> None:
    async with members(tmp_path, 2) as (a, b):
        old, new = a.sign("shared", 1), b.sign("shared", 2)
        only_a, only_b = a.sign("only-a"), b.sign("only-b")
        for record in (old, only_a):
            await a.store.merge_record(record)
        for record in (new, only_b):
            await b.store.merge_record(record)
        now = time.time()
        await a.store.merge_cursor(
            sign_cursor(a.identity, flow_id="shared", trigger_index=0, fired_at=now)
        )
        later = sign_cursor(b.identity, flow_id="shared", trigger_index=0, fired_at=now + 2)
        await b.store.merge_cursor(later)
        earlier = sign_cursor(a.identity, flow_id="shared", trigger_index=1, fired_at=now)
        await a.store.merge_cursor(earlier)

        digest = await a.flows.replicator.sync_with(b.view())
        assert digest is not None
        assert set(digest.online) == {a.node_id, b.node_id}
        wanted = {"shared": new, "only-a": only_a, "only-b": only_b}
        for member in (a, b):
            assert {r.flow_id: r for r in await member.store.records()} == wanted
            assert sorted(await member.store.cursors(), key=lambda c: c.key) == [later, earlier]
        assert {r.flow_id for r in a.service.merged} == {"shared", "only-b"}
        assert {r.flow_id for r in b.service.merged} == {"only-a"}
        # A second pass finds nothing to move.
        a.service.merged.clear()
        b.service.merged.clear()
        assert await a.flows.replicator.sync_with(b.view()) is not None
        assert a.service.merged == b.service.merged == []


async def test_what_a_member_must_refuse(tmp_path: Path) -> None:
    async with members(tmp_path, 3) as (a, b, c):
        stranger = load_or_create_identity(tmp_path / "stranger")
        honest = c.sign("honest", 2)
        assert await b.store.merge_record(honest)
        sent = {
            # a pretends c wrote it: a's signature is not c's
            "forged": {**a.sign("forged").as_wire(), "author": c.node_id},
            "tampered": {**c.sign("tampered").as_wire(), "source": "name: Evil\n"},
            "replayed": c.sign("honest", 1).as_wire(),
            "future": c.sign("future", updated_at=time.time() + 3600).as_wire(),
        }
        status, answer = await post(b, a, RECORDS, {"records": list(sent.values())})
        assert (status, answer) == (200, {"taken": 0})
        assert b.refusals("signature") == 2
        assert b.refusals("bounds") == 1
        assert [r.flow_id for r in await b.store.records()] == ["honest"]
        assert await b.store.record("honest") == honest
        # A valid signature by a node that is no member (or no longer one).
        outsider = sign_record(
            stranger,
            flow_id="outsider",
            version=1,
            updated_at=time.time(),
            deleted=False,
            enabled=True,
            format="yaml",
            source="name: Outsider\n",
        )
        b.cluster.others = [m for m in b.cluster.others if m.node_id != c.node_id]
        late_c = c.sign("late-c")
        status, answer = await post(
            b, a, RECORDS, {"records": [outsider.as_wire(), late_c.as_wire()]}
        )
        assert (status, answer) == (200, {"taken": 0})
        assert b.refusals("not_member") == 2
        cursor = sign_cursor(a.identity, flow_id="honest", trigger_index=0, fired_at=time.time())
        status, _ = await post(
            b, a, RECORDS, {"cursors": [{**cursor.as_wire(), "node_id": c.node_id}]}
        )
        assert status == 200
        assert await b.store.cursors() == []
        assert b.service.merged == []


async def test_records_of_a_member_that_left_are_taken_not_an_evicted_one_s(
    tmp_path: Path,
) -> None:
    async with members(tmp_path, 4) as (a, b, gone, evicted):
        left_record = gone.sign("left-behind")
        evicted_record = evicted.sign("evicted-wrote")
        left_cursor = sign_cursor(gone.identity, flow_id="left-behind", trigger_index=0,
                                  fired_at=time.time())  # fmt: skip
        await a.store.merge_record(left_record)
        await a.store.merge_record(evicted_record)
        await a.store.merge_cursor(left_cursor)
        for member in (a, b):
            member.cluster.depart(gone.node_id, "left")
            member.cluster.depart(evicted.node_id, "evicted")
        # b pulls from a later, as a member joining after they went would.
        assert await b.flows.replicator.sync_with(a.view(), give=False) is not None
        assert [r.flow_id for r in await b.store.records()] == ["left-behind"]
        assert await b.store.record("left-behind") == left_record
        assert await b.store.cursors() == [left_cursor]
        assert [r.flow_id for r in b.service.merged] == ["left-behind"]
        assert b.refusals("not_member") == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (RECORDS, {"records": [{"flow_id": "x"}]}),
        (RECORDS, {"records": [], "extra": True}),
        (RECORDS, {"records": "nope"}),
        (RECORDS, [1, 2]),
        (DIGEST, {"since": 1}),
        (FETCH, {"ids": ["NOT AN ID"]}),
        (FETCH, {"ids": [f"f{i}" for i in range(100)]}),
        (RUN_START, {"flow_id": "nightly", "run": {"inputs": {}, "more": 1}}),
    ],
)
async def test_malformed_bodies_are_refused(tmp_path: Path, path: str, body: Any) -> None:
    async with members(tmp_path, 2) as (a, b):
        status, answer = await post(b, a, path, body)
        assert status == 400, answer
        assert answer["success"] is False
        assert await b.store.records() == []
        assert b.service.started == []


async def test_too_many_records_in_one_push_are_refused(tmp_path: Path) -> None:
    async with members(tmp_path, 2) as (a, b):
        wire = a.sign().as_wire()
        status, _ = await post(b, a, RECORDS, {"records": [wire] * 65})
        assert status == 400
        assert await b.store.records() == []


async def test_a_member_answering_nonsense_changes_nothing(tmp_path: Path) -> None:
    async with members(tmp_path, 2) as (a, b):
        await b.store.merge_record(b.sign("mine"))
        b.flows.replicator.digest = _nonsense  # type: ignore[method-assign]
        assert await a.flows.replicator.sync_with(b.view()) is None
        assert await a.store.records() == []
        a.peers.down.add(b.node_id)
        assert await a.flows.replicator.sync_with(b.view()) is None


async def _nonsense() -> Any:
    return {"records": [{"flow_id": "../../x"}], "cursors": [], "online": []}


async def test_a_starting_node_settles_once_members_see_it(tmp_path: Path) -> None:
    async with members(tmp_path, 2) as (a, b):
        await b.store.merge_record(b.sign("nightly"))
        changes: list[str] = []
        a.flows.on_owners_changed(lambda: changes.append("changed"))
        # b does not see a online yet: a keeps trying, owning nothing meanwhile.
        b.cluster.set_state(a.node_id, "offline")
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.flows.settle)
            await async_wait_until(lambda: a.store.record("nightly"), 5, "a to pull")
            assert not a.flows.ownership.settled
            assert a.flows.owner_of("nightly", a.node_id) is None
            assert a.flows.owner_of("nightly", None) == b.node_id
            b.cluster.set_state(a.node_id, "online")
            await async_wait_until(lambda: a.flows.ownership.settled, 5, "a to settle")
        assert changes == ["changed"]
        assert a.flows.owner_of("nightly", a.node_id) == a.node_id


async def test_a_lone_node_settles_at_once(tmp_path: Path) -> None:
    async with flows_member(tmp_path / "alone") as alone:
        with anyio.fail_after(2):
            await alone.flows.settle()
        assert alone.flows.owner_of("nightly", None) == alone.node_id


async def test_a_member_that_never_answers_delays_settling_only_so_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agent.flows.cluster.SETTLE_BOUND_S", 0.5)
    async with members(tmp_path, 2) as (a, b):
        a.peers.down.add(b.node_id)
        with anyio.fail_after(5):
            await a.flows.settle()
        assert a.flows.ownership.settled
