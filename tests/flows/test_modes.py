"""Run modes under bursts: 50 triggers at once give exactly the runs the mode allows and one
skipped record standing for the rest; cron slots run once however often they fire."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.flows.clock import FakeClock
from agent.flows.events import FLOW_RUN_SKIPPED
from agent.flows.models import FlowRun
from agent.flows.triggers import Firing
from tests.flows.kit import Engine, FakeAction, engine, flow, step

BURST = 50


async def _burst(e: Engine, flow_id: str) -> list[FlowRun]:
    runs: list[FlowRun] = []

    async def one() -> None:
        runs.append(await e.start(flow_id))

    async with anyio.create_task_group() as group:
        for _ in range(BURST):
            group.start_soon(one)
    return runs


async def _states(e: Engine, flow_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in await e.store.runs_of(flow_id, 500):
        counts[run.state] = counts.get(run.state, 0) + 1
    return counts


def _definition(mode: str, **fields: Any) -> dict[str, Any]:
    return flow(f"Mode {mode}", [step("hold")], mode=mode, **fields)


@pytest.mark.parametrize(
    ("mode", "fields", "unfinished", "skipped"),
    [
        ("single", {}, 1, BURST - 1),
        ("queued", {"max": 5}, 1 + 5, BURST - 6),
        ("parallel", {"max": 3}, 3, BURST - 3),
    ],
)
async def test_a_burst_gives_the_runs_the_mode_allows(
    tmp_path: Path, mode: str, fields: dict[str, Any], unfinished: int, skipped: int
) -> None:
    gate = anyio.Event()
    action = FakeAction(gate=gate)
    async with engine(tmp_path, FakeClock(), {"task.run": action}) as e:
        await e.save(_definition(mode, **fields))
        flow_id = f"mode-{mode}"
        events = e.bus.subscribe([FLOW_RUN_SKIPPED.name])
        await _burst(e, flow_id)
        runs = await e.store.runs_of(flow_id, 500)
        records = [r for r in runs if r.state == "skipped"]
        assert len(records) == 1
        assert records[0].skipped_count == skipped
        assert len(runs) - 1 == unfinished
        running = 1 if mode != "parallel" else 3
        await _wait_started(action, running)
        assert events.closed is False
        published = [ev for ev in e.bus.recent([FLOW_RUN_SKIPPED.name])]
        assert len(published) == 1
        gate.set()
        for run in runs:
            if run.state != "skipped":
                assert (await e.ended(run.id)).state == "succeeded"
        assert len(action.calls) == unfinished
        assert await _states(e, flow_id) == {"succeeded": unfinished, "skipped": 1}


async def _wait_started(action: FakeAction, count: int) -> None:
    from tests.harness import async_wait_until

    await async_wait_until(lambda: action.started >= count, 10, f"{count} runs started")


async def test_queued_runs_go_one_at_a_time_in_order(tmp_path: Path) -> None:
    gate = anyio.Event()
    action = FakeAction(gate=gate)
    async with engine(tmp_path, FakeClock(), {"task.run": action}) as e:
        await e.save(_definition("queued", max=10))
        started = [await e.start("mode-queued") for _ in range(4)]
        await _wait_started(action, 1)
        gate.set()
        for run in started:
            await e.ended(run.id)
        finished = [await e.run(r.id) for r in started]
    assert [c.run_id for c in action.calls] == [r.id for r in started]
    for before, after in itertools.pairwise(finished):
        assert before.finished_at is not None
        assert after.started_at is not None
        assert before.finished_at <= after.started_at


async def test_restart_cancels_the_active_run(tmp_path: Path) -> None:
    gate = anyio.Event()
    action = FakeAction(gate=gate)
    async with engine(tmp_path, FakeClock(), {"task.run": action}) as e:
        await e.save(_definition("restart"))
        await _burst(e, "mode-restart")
        states = await _states(e, "mode-restart")
        assert states.get("cancelled") == BURST - 1
        last = [r for r in await e.store.runs_of("mode-restart", 500) if r.state != "cancelled"]
        assert len(last) == 1
        gate.set()
        assert (await e.ended(last[0].id)).state == "succeeded"
        cancelled = [r for r in await e.store.runs_of("mode-restart", 500) if r.error]
        assert all("mode restart" in (r.error or "") for r in cancelled)


async def test_a_cron_slot_runs_once_and_moves_the_cursor(tmp_path: Path) -> None:
    action = FakeAction()
    clock = FakeClock()
    definition = flow("Nightly", [step("work")], mode="parallel", max=10,
                      triggers=[{"cron": "0 2 * * *"}])  # fmt: skip
    async with engine(tmp_path, clock, {"task.run": action}) as e:
        await e.save(definition)
        firing = Firing("nightly", 0, "cron", "2027-01-15T02:00:00Z", clock.now(), {})
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(e.runs.fire, firing)
        runs = await e.store.runs_of("nightly", 50)
        assert len(runs) == 1
        assert runs[0].trigger.kind == "cron"
        await e.ended(runs[0].id)
        assert e.store.last_fired("nightly", 0) == clock.now()
        assert [c.fired_at for c in e.cluster.cursors] == [clock.now()]
        cursor = await e.store.cursor("nightly", 0)
        assert cursor is not None
        assert cursor.node_id == e.identity.node_id
    assert len(action.calls) == 1
