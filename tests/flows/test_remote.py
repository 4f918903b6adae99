"""Other members' runs between in-process members: listed from everyone at once, an
unreachable member left out, reads, deletes, cancels, manual runs and reruns handed to the right
member, and members' refusals passed on as they came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from agent.core.errors import ApiError
from agent.flows.models import RerunBody, RunBody
from tests.flows.cluster_kit import Member, flows_member, link


@asynccontextmanager
async def members(tmp_path: Path) -> AsyncIterator[list[Member]]:
    async with AsyncExitStack() as stack:
        found = [
            await stack.enter_async_context(flows_member(tmp_path / f"m{i}", f"m{i}"))
            for i in range(3)
        ]
        link(*found)
        yield found


async def test_runs_of_every_member_newest_first(tmp_path: Path) -> None:
    async with members(tmp_path) as (a, b, c):
        b.service.add_run("nightly", "b-old", 10.0)
        b.service.add_run("nightly", "b-new", 30.0)
        c.service.add_run("nightly", "c-mid", 20.0)
        c.service.add_run("other", "c-other", 40.0)
        a.service.add_run("nightly", "a-own", 50.0)
        runs = await a.flows.remote_runs("nightly", 10)
        assert [r.id for r in runs] == ["b-new", "c-mid", "b-old"]
        assert [r.id for r in await a.flows.remote_runs("nightly", 2)] == ["b-new", "c-mid"]
        a.peers.down.add(c.node_id)
        assert [r.id for r in await a.flows.remote_runs("nightly", 10)] == ["b-new", "b-old"]


async def test_a_member_answers_only_for_its_own_runs(tmp_path: Path) -> None:
    async with members(tmp_path) as (a, b, c):
        run = b.service.add_run("nightly", "claimed", 10.0)
        b.service.runs["claimed"] = run.model_copy(update={"node_id": c.node_id})
        assert await a.flows.remote_runs("nightly", 10) == []


async def test_one_run_and_deleting_it(tmp_path: Path) -> None:
    async with members(tmp_path) as (a, b, _):
        b.service.add_run("nightly", "r1", 10.0)
        found = await a.flows.remote_run("nightly", "r1")
        assert found is not None
        assert found.node_id == b.node_id
        assert await a.flows.remote_run("other", "r1") is None
        assert await a.flows.remote_run("nightly", "r2") is None
        assert not await a.flows.delete_remote_run("other", "r1")
        b.service.active.add("r1")
        with pytest.raises(ApiError) as refused:
            await a.flows.delete_remote_run("nightly", "r1")
        assert (refused.value.status, refused.value.code) == (409, "FLOW_RUN_ACTIVE")
        b.service.active.clear()
        assert await a.flows.delete_remote_run("nightly", "r1")
        assert "r1" not in b.service.runs


async def test_a_manual_run_goes_to_the_owner(tmp_path: Path) -> None:
    async with members(tmp_path) as (a, b, c):
        await b.store.merge_record(c.sign("nightly"))
        await b.store.merge_record(b.sign("local"))
        run = await a.flows.forward_run(b.node_id, "nightly", RunBody(inputs={"day": "mon"}))
        assert run.node_id == b.node_id
        await a.flows.forward_run(b.node_id, "local", RunBody())
        assert [(f, body.inputs, foreign) for f, body, foreign in b.service.started] == [
            ("nightly", {"day": "mon"}, True),
            ("local", {}, False),
        ]
        with pytest.raises(ApiError) as missing:
            await a.flows.forward_run(b.node_id, "absent", RunBody())
        assert (missing.value.status, missing.value.code) == (404, "FLOW_NOT_FOUND")
        a.peers.down.add(b.node_id)
        with pytest.raises(ApiError) as unreachable:
            await a.flows.forward_run(b.node_id, "nightly", RunBody())
        assert (unreachable.value.status, unreachable.value.code) == (
            503,
            "FLOW_OWNER_UNREACHABLE",
        )
        with pytest.raises(ApiError) as offline:
            await a.flows.forward_run("nosuchnode", "nightly", RunBody())
        assert offline.value.code == "FLOW_OWNER_UNREACHABLE"


async def test_a_rerun_goes_to_the_member_that_ran_it(tmp_path: Path) -> None:
    async with members(tmp_path) as (a, b, c):
        for member in (b, c):
            await member.store.merge_record(a.sign("nightly"))
        c.service.add_run("nightly", "r1", 10.0)
        again = await a.flows.forward_rerun("nightly", "r1", RerunBody())
        assert again is not None
        assert (again.node_id, again.rerun_of) == (c.node_id, "r1")
        assert await a.flows.forward_rerun("nightly", "r9", RerunBody()) is None
        with pytest.raises(ApiError) as refused:
            await a.flows.forward_rerun("nightly", "r1", RerunBody(from_step="nope"))
        assert (refused.value.status, refused.value.code) == (400, "FLOW_STEP_NOT_FOUND")


async def test_a_run_held_by_another_member_is_cancelled_there(tmp_path: Path) -> None:
    async with members(tmp_path) as (a, b, c):
        c.service.add_run("nightly", "r1", 10.0)
        c.service.active.add("r1")
        c.service.add_run("other", "r2", 10.0)
        c.service.active.add("r2")
        assert await a.flows.cancel_remote_run("other", "r1") is None
        assert await a.flows.cancel_remote_run("nightly", "r9") is None
        cancelled = await a.flows.cancel_remote_run("nightly", "r1")
        assert cancelled is not None
        assert (cancelled.id, cancelled.node_id, cancelled.state) == ("r1", c.node_id, "cancelled")
        assert c.service.runs["r1"].state == "cancelled"
        assert c.service.runs["r2"].state == "succeeded"  # the other flow's run is left alone
        with pytest.raises(ApiError) as ended:
            await a.flows.cancel_remote_run("nightly", "r1")
        assert (ended.value.status, ended.value.code) == (409, "FLOW_RUN_FINISHED")
        assert b.service.runs == {}
