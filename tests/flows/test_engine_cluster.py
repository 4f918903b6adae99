"""What the engine does with records from members: a flow saved elsewhere runs here as
`foreign`, a tombstone deletes its runs, and the node's limit on active runs holds."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from agent.flows.clock import FakeClock
from agent.flows.events import FLOW_CHANGED
from agent.flows.records import FlowRecord, sign_record
from agent.peer.identity import load_or_create_identity
from tests.flows.kit import FakeAction, engine, flow, step
from tests.harness import async_wait_until


async def test_a_member_s_flow_runs_here_as_foreign_and_goes_with_its_tombstone(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    member = load_or_create_identity(tmp_path / "member")
    action = FakeAction()
    source = json.dumps(flow("Theirs", [step("work")]))

    def record(version: int, *, deleted: bool = False) -> FlowRecord:
        return sign_record(
            member,
            flow_id="theirs",
            version=version,
            updated_at=clock.now(),
            deleted=deleted,
            enabled=True,
            format="json",
            source="" if deleted else source,
        )

    async with engine(tmp_path / "here", clock, {"task.run": action}) as e:
        changes = e.bus.subscribe([FLOW_CHANGED.name])
        first = record(1)
        assert await e.store.merge_record(first)
        await e.flows.merged([first])
        event = await changes.get()
        assert event is not None
        assert event.data["node_id"] == member.node_id
        assert event.data["change"] == "created"
        assert [a.flow_id for a in e.triggers.armed] == ["theirs"]
        shown = await e.flows.get("theirs")
        assert shown.author == member.node_id
        run = await e.ended((await e.start("theirs")).id)
        assert run.state == "succeeded"
        assert action.calls[0].foreign is True
        tombstone = record(2, deleted=True)
        assert await e.store.merge_record(tombstone)
        await e.flows.merged([tombstone])
        assert await e.store.run(run.id) is None
        assert e.triggers.armed == []
        assert (await e.flows.listing()).count == 0


async def test_a_flow_saved_here_is_not_foreign(tmp_path: Path) -> None:
    action = FakeAction()
    async with engine(tmp_path, FakeClock(), {"task.run": action}) as e:
        await e.save(flow("Mine", [step("work")]))
        await e.ended((await e.start("mine")).id)
    assert action.calls[0].foreign is False


async def test_the_node_limit_on_active_runs_holds(tmp_path: Path) -> None:
    gate = anyio.Event()
    action = FakeAction(gate=gate)
    async with engine(tmp_path, FakeClock(), {"task.run": action}, max_active=2) as e:
        await e.save(flow("Wide", [step("work")], mode="parallel", max=10))
        runs = [await e.start("wide") for _ in range(5)]
        await async_wait_until(lambda: action.started == 2, 10, "two runs started")
        states = sorted([(await e.run(r.id)).state for r in runs])
        assert states == ["queued", "queued", "queued", "running", "running"]
        assert action.started == 2
        gate.set()
        for run in runs:
            assert (await e.ended(run.id)).state == "succeeded"
