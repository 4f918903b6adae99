"""What flows' tests share: a definition builder, a fake action, and the engine in
process (a real SQLite database, the real service and engine, a fake clock, a single-node
cluster and triggers that only record what is armed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.jobs import Jobs
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.clock import FakeClock
from agent.flows.engine.runs import Runs
from agent.flows.inputs import check_inputs
from agent.flows.models import FINISHED_RUN_STATES, Flow, FlowRun, RerunBody, RunBody
from agent.flows.records import Cursor, FlowRecord
from agent.flows.service import FlowService
from agent.flows.service_runs import RunService
from agent.flows.store import FlowStore
from agent.flows.triggers import ArmedFlow
from agent.peer.identity import Identity, load_or_create_identity
from tests.harness import async_wait_until

WITHIN = 10.0


def step(step_id: str, uses: str = "task.run", **fields: Any) -> dict[str, Any]:
    """A step; `with_` becomes `with`, `if_` becomes `if`."""
    out: dict[str, Any] = {"id": step_id, "uses": uses}
    for key, value in fields.items():
        out[key.rstrip("_")] = value
    out.setdefault("with", {"command": f"echo {step_id}"} if uses == "task.run" else {})
    return out


def flow(name: str, steps: Sequence[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"name": name, "steps": list(steps), **fields}


class FakeAction:
    """Records its calls; fails its first `fails` attempts; sleeps `sleep` seconds on the
    clock; waits for `gate` when given; answers `outputs` (or its params and attempt)."""

    def __init__(
        self,
        name: str = "task.run",
        *,
        fails: int = 0,
        error: str = "it broke",
        outputs: dict[str, Any] | None = None,
        sleep: float | None = None,
        clock: FakeClock | None = None,
        gate: anyio.Event | None = None,
    ) -> None:
        self.name, self.fails, self.error = name, fails, error
        self.outputs, self.sleep, self.clock, self.gate = outputs, sleep, clock, gate
        self.calls: list[StepCall] = []
        self.started = 0

    async def run(self, call: StepCall) -> dict[str, Any]:
        self.calls.append(call)
        self.started += 1
        call.log(f"attempt {call.attempt} of {call.step_id}")
        if self.gate is not None:
            await self.gate.wait()
        if self.sleep is not None:
            assert self.clock is not None
            await self.clock.sleep_until(self.clock.now() + self.sleep)
        if len(self.calls) <= self.fails:
            raise StepFailed(self.error, {"exit_code": 1})
        if self.outputs is not None:
            return dict(self.outputs)
        params = call.params.model_dump(mode="json")
        return {"stdout": params.get("command", ""), "exit_code": 0, "attempt": call.attempt}


@dataclass
class SoloCluster:
    node_id: str
    owner: str | None = None
    records: list[FlowRecord] = field(default_factory=list)
    cursors: list[Cursor] = field(default_factory=list)
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def owner_of(self, flow_id: str, runs_on: str | None) -> str | None:
        return self.owner or self.node_id

    def on_owners_changed(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    async def announce(self, record: FlowRecord) -> None:
        self.records.append(record)

    async def announce_cursor(self, cursor: Cursor) -> None:
        self.cursors.append(cursor)

    async def remote_runs(self, flow_id: str, limit: int) -> list[FlowRun]:
        return []

    async def remote_run(self, flow_id: str, run_id: str) -> FlowRun | None:
        return None

    async def delete_remote_run(self, flow_id: str, run_id: str) -> bool:
        return False

    async def cancel_remote_run(self, flow_id: str, run_id: str) -> FlowRun | None:
        return None

    async def forward_run(self, owner: str, flow_id: str, body: RunBody) -> FlowRun:
        raise AssertionError("a single node forwards nothing")

    async def forward_rerun(self, flow_id: str, run_id: str, body: RerunBody) -> FlowRun | None:
        return None


@dataclass
class RecordingTriggers:
    armed: list[ArmedFlow] = field(default_factory=list)

    def arm(self, flows: Sequence[ArmedFlow]) -> None:
        self.armed = list(flows)

    def next_at(self, flow_id: str, trigger_index: int) -> float | None:
        return None


@dataclass
class Engine:
    db: Database
    store: FlowStore
    bus: EventBus
    clock: FakeClock
    identity: Identity
    cluster: SoloCluster
    triggers: RecordingTriggers
    flows: FlowService
    runs: RunService
    engine: Runs

    async def save(self, definition: dict[str, Any]) -> Flow:
        return await self.flows.create(json.dumps(definition), "json")

    async def start(self, flow_id: str, **inputs: Any) -> FlowRun:
        return await self.runs.run(flow_id, RunBody(inputs=inputs))

    async def run(self, run_id: str) -> FlowRun:
        found = await self.store.run(run_id)
        assert found is not None, run_id
        return found

    async def ended(self, run_id: str, within: float = WITHIN) -> FlowRun:
        async def done() -> FlowRun | None:
            run = await self.store.run(run_id)
            return run if run is not None and run.state in FINISHED_RUN_STATES else None

        result: FlowRun = await async_wait_until(done, within, f"run {run_id} to end")
        return result

    async def step_state(self, run_id: str, step_id: str, *states: str) -> Any:
        async def reached() -> Any:
            run = await self.store.run(run_id)
            steps = {s.id: s for s in run.steps} if run else {}
            found = steps.get(step_id)
            return found if found is not None and found.state in states else None

        return await async_wait_until(reached, WITHIN, f"{step_id} of {run_id} in {states}")


@asynccontextmanager
async def engine(
    home: Path,
    clock: FakeClock,
    actions: dict[str, Any],
    *,
    max_active: int = 64,
    runs_kept: int = 50,
    bus: EventBus | None = None,
) -> AsyncIterator[Engine]:
    """The engine on `home/flows.db`; leaving it stops its runs as an agent's stop would
    (they stay unfinished in the database), so a second `engine(home, ...)` resumes them."""
    db = Database(home / "flows.db")
    await db.open()
    identity = load_or_create_identity(home)
    try:
        async with anyio.create_task_group() as group:
            jobs = Jobs()
            store = FlowStore(db)
            await store.migrate()
            bus = bus or EventBus()
            cluster = SoloCluster(identity.node_id)
            triggers = RecordingTriggers()
            flows = FlowService(store=store, bus=bus, clock=clock, identity=identity,
                                cluster=cluster, triggers=triggers)  # fmt: skip
            runs = Runs(
                store=store,
                bus=bus,
                clock=clock,
                node_id=identity.node_id,
                spawn=lambda name, job: jobs.start(group, name, job),
                actions=actions,
                max_active=max_active,
                runs_kept=runs_kept,
                find_flow=flows.find_target,
                check_inputs=check_inputs,
                foreign_of=flows.foreign_of,
                on_cursor=cluster.announce_cursor,
            )
            flows.use_runs(runs)
            await flows.load()
            await runs.resume()
            flows.rearm()
            yield Engine(db, store, bus, clock, identity, cluster, triggers, flows,
                         RunService(flows, store, cluster, clock), runs)  # fmt: skip
            await jobs.cancel("flows")
            group.cancel_scope.cancel()
    finally:
        await db.close()
