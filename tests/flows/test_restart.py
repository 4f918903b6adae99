"""Runs across a restart: a wait goes on waiting until its persisted end, a run cut in the
middle of a step is marked interrupted and resumes there, a retry keeps its schedule."""

from __future__ import annotations

from pathlib import Path

import anyio

from agent.core.bus import EventBus, next_event
from agent.flows.clock import FakeClock
from agent.flows.events import FLOW_RUN
from tests.flows.kit import FakeAction, engine, flow, step


async def test_a_wait_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    action = FakeAction()
    definition = flow("Later", [step("pause", "wait", with_={"duration": "1h"}), step("go")])
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        await e.save(definition)
        run_id = (await e.start("later")).id
        waiting = await e.step_state(run_id, "pause", "waiting")
        assert waiting.wake_at == clock.now() + 3600
        assert (await e.run(run_id)).state == "waiting"
    clock.advance(1800)
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        still = await e.step_state(run_id, "pause", "waiting")
        assert still.wake_at == waiting.wake_at
        assert action.calls == []
        clock.advance(1800)
        run = await e.ended(run_id)
    assert run.state == "succeeded"
    assert run.resumed == 1
    assert len(action.calls) == 1


async def test_a_wait_past_its_end_goes_on_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    definition = flow("Past", [step("pause", "wait", with_={"duration": "10m"})])
    async with engine(tmp_path, clock, {}) as e:
        await e.save(definition)
        run_id = (await e.start("past")).id
        await e.step_state(run_id, "pause", "waiting")
    clock.advance(3600)
    async with engine(tmp_path, clock, {}) as e:
        run = await e.ended(run_id)
    assert run.state == "succeeded"


async def test_a_run_cut_mid_step_resumes_as_interrupted(tmp_path: Path) -> None:
    clock = FakeClock()
    stuck = FakeAction(gate=anyio.Event())
    definition = flow("Cut", [step("done"), step("cut"), step("last")])
    done = FakeAction("notify", outputs={"title": "x"})
    definition["steps"][0] = step("done", "notify", with_={"title": "first"})
    async with engine(tmp_path, clock, {"task.run": stuck, "notify": done}) as e:
        await e.save(definition)
        run_id = (await e.start("cut")).id
        await e.step_state(run_id, "cut", "running")
    assert (await _stored_state(tmp_path, run_id)) == "running"
    fine = FakeAction()
    async with engine(tmp_path, clock, {"task.run": fine, "notify": done}) as e:
        run = await e.ended(run_id)
    assert run.state == "succeeded"
    assert run.resumed == 1
    assert len(done.calls) == 1  # the finished step did not run again
    cut = {s.id: s for s in run.steps}["cut"]
    assert cut.attempts == 2  # the cut attempt counts
    assert [c.step_id for c in fine.calls] == ["cut", "last"]


async def _stored_state(home: Path, run_id: str) -> str:
    from agent.core.db import Database

    db = Database(home / "flows.db")
    await db.open()
    try:
        row = await db.fetchone("SELECT state FROM flow_runs WHERE id = ?", (run_id,))
        assert row is not None
        return str(row["state"])
    finally:
        await db.close()


async def test_a_retry_delay_keeps_its_schedule_across_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    flaky = FakeAction(fails=1)
    definition = flow("Retry later", [step("flaky", retry={"limit": 1, "backoff": "100s"})])
    async with engine(tmp_path, clock, {"task.run": flaky}) as e:
        await e.save(definition)
        run_id = (await e.start("retry-later")).id
        waiting = await e.step_state(run_id, "flaky", "waiting")
        assert waiting.wake_at == clock.now() + 100
    async with engine(tmp_path, clock, {"task.run": flaky}) as e:
        again = await e.step_state(run_id, "flaky", "waiting")
        assert again.wake_at == waiting.wake_at
        assert len(flaky.calls) == 1
        clock.advance(100)
        run = await e.ended(run_id)
    assert run.state == "succeeded"
    assert run.steps[0].attempts == 2


async def test_an_event_wait_goes_on_when_the_event_comes(tmp_path: Path) -> None:
    clock = FakeClock()
    definition = flow(
        "Until",
        [
            step(
                "until",
                "wait",
                with_={
                    "event": "flow.notified",
                    "filter": "event.data.title == 'go'",
                    "timeout": "1h",
                },
            )
        ],
        outputs={"title": "${{ steps.until.outputs.event.data.title }}"},
    )
    async with engine(tmp_path, clock, {}) as e:
        await e.save(definition)
        run_id = (await e.start("until")).id
        waiting = await e.step_state(run_id, "until", "waiting")
        assert waiting.wake_at == clock.now() + 3600
        from agent.flows.events import FLOW_NOTIFIED, Notified

        for title in ("not yet", "go"):
            e.bus.publish(FLOW_NOTIFIED, Notified(flow_id="x", run_id="y", title=title,
                          message="", severity="info", insight_id=None))  # fmt: skip
        run = await e.ended(run_id)
    assert run.state == "succeeded"
    assert run.outputs == {"title": "go"}


async def test_interrupted_is_published_before_the_run_goes_on(tmp_path: Path) -> None:
    clock = FakeClock()
    definition = flow("Again", [step("cut")])
    async with engine(tmp_path, clock, {"task.run": FakeAction(gate=anyio.Event())}) as e:
        await e.save(definition)
        run_id = (await e.start("again")).id
        await e.step_state(run_id, "cut", "running")
    bus = EventBus()
    seen = bus.subscribe([FLOW_RUN.name])
    async with engine(tmp_path, clock, {"task.run": FakeAction()}, bus=bus) as e:
        await e.ended(run_id)
    states = []
    while (event := await next_event(seen, 1)) is not None:
        states.append(event.data["state"])
        if event.data["state"] == "succeeded":
            break
    assert states == ["interrupted", "running", "succeeded"]


async def test_a_parent_cut_while_its_sub_flow_runs_adopts_the_same_child(tmp_path: Path) -> None:
    clock = FakeClock()
    child = flow("Child", [step("work")], outputs={"out": "${{ steps.work.outputs.stdout }}"})
    parent = flow(
        "Parent",
        [step("call", "flow.run", with_={"flow": "child"})],
        outputs={"out": "${{ steps.call.outputs.out }}"},
    )
    async with engine(tmp_path, clock, {"task.run": FakeAction(gate=anyio.Event())}) as e:
        await e.save(child)
        await e.save(parent)
        run_id = (await e.start("parent")).id
        await e.step_state(run_id, "call", "running")
        children = await e.store.runs_of("child", 10)
        await e.step_state(children[0].id, "work", "running")
    fine = FakeAction(outputs={"stdout": "done", "exit_code": 0})
    async with engine(tmp_path, clock, {"task.run": fine}) as e:
        run = await e.ended(run_id)
        after = await e.store.runs_of("child", 10)
    assert run.state == "succeeded", run.error
    assert run.outputs == {"out": "done"}
    assert [c.id for c in after] == [children[0].id]
    assert len(fine.calls) == 1
