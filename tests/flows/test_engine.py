"""One run's step loop: order, conditions, outputs, retries with backoff on the clock,
on_error, timeouts and bad parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.flows.clock import FakeClock
from tests.flows.kit import Engine, FakeAction, engine, flow, step
from tests.harness import async_wait_until


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_steps_run_in_order_with_outputs_conditions_and_inputs(
    tmp_path: Path, clock: FakeClock
) -> None:
    action = FakeAction()
    definition = flow(
        "Order",
        [
            step("first", with_={"command": "echo ${{ inputs.word }}"}),
            step("never", if_="inputs.word == 'nope'"),
            step("second", with_={"command": "${{ steps.first.outputs.stdout }} again"}),
        ],
        inputs={"word": {"type": "string", "default": "hello"}},
        outputs={
            "said": "${{ steps.second.outputs.stdout }}",
            "skipped": "${{ steps.never.state }}",
        },
    )
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        saved = await e.save(definition)
        assert saved.id == "order"
        run = await e.ended((await e.start("order", word="hi")).id)
    assert run.state == "succeeded", run.error
    assert [s.id for s in run.steps] == ["first", "never", "second"]
    assert [s.state for s in run.steps] == ["succeeded", "skipped", "succeeded"]
    assert [c.step_id for c in action.calls] == ["first", "second"]
    assert run.outputs == {"said": "echo hi again", "skipped": "skipped"}
    assert run.steps[0].logs == ["attempt 1 of first"]
    assert run.steps[2].inputs == {"command": "echo hi again"}


async def _waiting_at(e: Engine, run_id: str, step_id: str, attempts: int) -> float:
    found = await e.step_state(run_id, step_id, "waiting")
    while found.attempts != attempts:
        found = await e.step_state(run_id, step_id, "waiting")
    assert found.wake_at is not None
    return float(found.wake_at)


async def _asleep(clock: FakeClock, count: int) -> None:
    await async_wait_until(lambda: clock.sleepers >= count, 10, f"{count} sleepers")


async def test_retries_wait_the_backoff_on_the_clock(tmp_path: Path, clock: FakeClock) -> None:
    action = FakeAction(fails=3)
    retry = {"limit": 3, "backoff": "2s", "max_delay": "5s"}
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        await e.save(flow("Retry", [step("flaky", retry=retry)]))
        run_id = (await e.start("retry")).id
        start = clock.now()
        assert await _waiting_at(e, run_id, "flaky", 1) == start + 2
        assert len(action.calls) == 1
        clock.advance(2)
        assert await _waiting_at(e, run_id, "flaky", 2) == start + 2 + 4
        clock.advance(4)
        assert await _waiting_at(e, run_id, "flaky", 3) == start + 6 + 5  # max_delay
        clock.advance(5)
        run = await e.ended(run_id)
    assert run.state == "succeeded"
    assert run.steps[0].attempts == 4
    assert [c.attempt for c in action.calls] == [1, 2, 3, 4]


async def test_retries_are_honoured_before_continue(tmp_path: Path, clock: FakeClock) -> None:
    broken, after = FakeAction(fails=99), FakeAction("notify", outputs={"title": "t"})
    definition = flow(
        "Continue",
        [
            step("broken", retry={"limit": 2, "backoff": 0}, on_error="continue"),
            step("after", "notify", with_={"title": "${{ steps.broken.state }}"}),
        ],
    )
    async with engine(tmp_path, clock, {"task.run": broken, "notify": after}) as e:
        await e.save(definition)
        run = await e.ended((await e.start("continue")).id)
    assert run.state == "succeeded"
    assert len(broken.calls) == 3
    assert run.steps[0].state == "failed"
    assert run.steps[0].error == "it broke"
    assert run.steps[0].outputs == {"exit_code": 1}
    assert after.calls[0].params.model_dump()["title"] == "failed"


async def test_goto_after_retries(tmp_path: Path, clock: FakeClock) -> None:
    broken, tell = FakeAction(fails=99), FakeAction("notify", outputs={"title": "t"})
    definition = flow(
        "Goto",
        [
            step("broken", retry={"limit": 1, "backoff": 0}, on_error="goto recover"),
            step("skipped_by_goto"),
            step("recover", "notify", with_={"title": "recovering"}),
        ],
    )
    async with engine(tmp_path, clock, {"task.run": broken, "notify": tell}) as e:
        await e.save(definition)
        run = await e.ended((await e.start("goto")).id)
    assert run.state == "succeeded"
    assert len(broken.calls) == 2
    assert [s.id for s in run.steps] == ["broken", "recover"]
    assert len(tell.calls) == 1


async def test_a_failed_step_fails_the_run(tmp_path: Path, clock: FakeClock) -> None:
    action = FakeAction(fails=99)
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        await e.save(flow("Fail", [step("a"), step("b")]))
        run = await e.ended((await e.start("fail")).id)
    assert run.state == "failed"
    assert run.error == "step a failed: it broke"
    assert [s.id for s in run.steps] == ["a"]


async def test_a_goto_loop_ends_the_run(tmp_path: Path, clock: FakeClock) -> None:
    action = FakeAction(fails=10_000)
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        await e.save(
            flow("Loop", [step("ping", on_error="goto pong"), step("pong", on_error="goto ping")])
        )
        run = await e.ended((await e.start("loop")).id, within=60)
    assert run.state == "failed"
    assert run.error is not None
    assert "1000 step executions" in run.error
    assert len(action.calls) == 1000


async def test_timeout_per_attempt_on_the_clock(tmp_path: Path, clock: FakeClock) -> None:
    slow = FakeAction(sleep=60, clock=clock)
    definition = flow("Slow", [step("slow", timeout="10s", retry={"limit": 1, "backoff": 1})])
    async with engine(tmp_path, clock, {"task.run": slow}) as e:
        await e.save(definition)
        run_id = (await e.start("slow")).id
        # The attempt's deadline and the action's sleep are relative to when each began:
        # both must be asleep on the clock before it moves.
        await _asleep(clock, 2)
        clock.advance(10)
        await _waiting_at(e, run_id, "slow", 1)
        clock.advance(1)
        second = await e.step_state(run_id, "slow", "running")
        assert second.attempts == 2
        await _asleep(clock, 2)
        clock.advance(10)
        run = await e.ended(run_id)
    assert run.state == "failed"
    assert run.steps[0].error == "timed out after 10 s"
    assert len(slow.calls) == 2


async def test_bad_parameters_fail_without_retry(tmp_path: Path, clock: FakeClock) -> None:
    action = FakeAction()
    definition = flow(
        "Bad params",
        [step("typed", with_={"command": "${{ inputs.n }}"}, retry={"limit": 5, "backoff": 0})],
        inputs={"n": {"type": "integer", "default": 3}},
    )
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        await e.save(definition)
        run = await e.ended((await e.start("bad-params")).id)
    assert run.state == "failed"
    assert run.steps[0].attempts == 1
    assert run.steps[0].error is not None
    assert run.steps[0].error.startswith("with: command")
    assert action.calls == []


async def test_a_sub_flow_runs_as_a_child(tmp_path: Path, clock: FakeClock) -> None:
    action = FakeAction(outputs={"stdout": "child says hi", "exit_code": 0})
    child = flow(
        "Child",
        [step("work")],
        inputs={"who": {"type": "string"}},
        outputs={"said": "${{ steps.work.outputs.stdout }} to ${{ inputs.who }}"},
    )
    parent = flow(
        "Parent",
        [step("call", "flow.run", with_={"flow": "child", "inputs": {"who": "you"}})],
        outputs={"said": "${{ steps.call.outputs.said }}"},
    )
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        await e.save(child)
        await e.save(parent)
        run = await e.ended((await e.start("parent")).id)
        children = await e.store.runs_of("child", 10)
    assert run.state == "succeeded", run.error
    assert run.outputs == {"said": "child says hi to you"}
    assert len(children) == 1
    assert children[0].parent_run_id == run.id
    assert children[0].trigger.kind == "flow"


async def test_rerun_from_a_step_reuses_earlier_outputs(tmp_path: Path, clock: FakeClock) -> None:
    first = FakeAction(outputs={"stdout": "fetched", "exit_code": 0})
    flaky = FakeAction("notify", fails=1, outputs={"title": "ok"})
    definition = flow(
        "Rerun",
        [
            step("fetch"),
            step("tell", "notify", with_={"title": "${{ steps.fetch.outputs.stdout }}"}),
        ],
    )
    async with engine(tmp_path, clock, {"task.run": first, "notify": flaky}) as e:
        await e.save(definition)
        failed = await e.ended((await e.start("rerun")).id)
        assert failed.state == "failed"
        from agent.flows.models import RerunBody

        again = await e.runs.rerun("rerun", failed.id, RerunBody())
        rerun = await e.ended(again.id)
    assert rerun.state == "succeeded"
    assert rerun.rerun_of == failed.id
    assert rerun.trigger.kind == "rerun"
    assert len(first.calls) == 1  # fetch was not run again
    assert rerun.steps[0].outputs == {"stdout": "fetched", "exit_code": 0}
    assert flaky.calls[-1].params.model_dump()["title"] == "fetched"
