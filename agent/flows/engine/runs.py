"""Starting, resuming, cancelling and rerunning runs on this node.

One run is one background job (`flows.run-<id>`); at most `flows_max_active_runs` of them
work at once (the others stay queued), sub-flows aside (their parent holds a place already,
so a full node cannot deadlock on its own children). A queued-mode run goes when it is the
flow's oldest active run.

A cancel marks the run (and its unfinished steps) cancelled once its job has ended, so no
late write of the job follows it. A job ended by the agent stopping writes nothing: the run
stays running or waiting, and the next start marks it interrupted and resumes it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from agent.core.bus import EventBus
from agent.flows.actions.base import Action
from agent.flows.clock import Clock
from agent.flows.definition import FlowDefinition
from agent.flows.engine.admission import decide
from agent.flows.engine.plans import Plan, Target
from agent.flows.engine.runner import Runner, publish_run
from agent.flows.engine.subflows import SubFlows
from agent.flows.events import FLOW_RUN_SKIPPED, FLOW_STEP, RunSkipped, StepChanged
from agent.flows.models import FINISHED_RUN_STATES, FlowRun, RunState
from agent.flows.records import Cursor
from agent.flows.store import FlowStore

log = logging.getLogger("openfabric")
_IDS = uuid.UUID("6f0b8a52-5d0e-4a4b-9f39-0c6a3f3f1e15")
Spawn = Callable[[str, Callable[[], Awaitable[Any]]], None]


def slot_run_id(flow_id: str, trigger_index: int, slot: str) -> str:
    """The one run id of a cron/interval slot, the same on every member."""
    return str(uuid.uuid5(_IDS, f"{flow_id}/{trigger_index}/{slot}"))


# Finds a flow by id or name for flow.run, and checks a sub-run's inputs (an ApiError).
FindFlow = Callable[[str], Awaitable[Target | None]]
CheckInputs = Callable[[FlowDefinition, dict[str, Any]], dict[str, Any]]
ForeignOf = Callable[[str], Awaitable[bool]]


class Runs:
    def __init__(
        self,
        *,
        store: FlowStore,
        bus: EventBus,
        clock: Clock,
        node_id: str,
        spawn: Spawn,
        actions: dict[str, Action],
        max_active: int,
        runs_kept: int,
        find_flow: FindFlow,
        check_inputs: CheckInputs,
        foreign_of: ForeignOf,
        on_cursor: Callable[[Cursor], Awaitable[None]],
    ) -> None:
        self.store, self.bus, self.clock, self.node_id = store, bus, clock, node_id
        self.spawn, self.actions, self.runs_kept = spawn, actions, runs_kept
        self.find_flow, self.check_inputs, self.foreign_of = find_flow, check_inputs, foreign_of
        self.on_cursor = on_cursor
        self._limiter = anyio.CapacityLimiter(max_active)
        self._locks: dict[str, anyio.Lock] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._done: dict[str, anyio.Event] = {}
        self._cancelling: dict[str, str] = {}
        self._turn_changed: dict[str, anyio.Event] = {}

    def _lock(self, flow_id: str) -> anyio.Lock:
        return self._locks.setdefault(flow_id, anyio.Lock())

    # Admission -----------------------------------------------------------------------

    async def admit(self, plan: Plan) -> FlowRun:
        """A new run as the flow's mode allows: queued (it starts soon), or skipped."""
        flow_id = plan.target.flow_id
        async with self._lock(flow_id):
            if plan.run_id is not None and (held := await self.store.run(plan.run_id)):
                return held
            active = await self.store.active_runs(flow_id)
            decision = decide(plan.target.definition, active)
            if decision.action == "restart":
                for run in active:
                    await self.cancel(run.id, "cancelled: a new run started (mode restart)")
            if decision.action == "skip":
                assert decision.blocked_by is not None
                return await self._skip(plan, decision.reason, decision.blocked_by)
            return await self.start(plan)

    async def _skip(self, plan: Plan, reason: str, blocked_by: str) -> FlowRun:
        now = self.clock.now()
        run = self._new_run(plan, "skipped")
        run.error, run.started_at, run.finished_at, run.skipped_count = reason, now, now, 1
        record = await self.store.skip(run, blocked_by, plan.cursor)
        if plan.cursor is not None:
            await self.on_cursor(plan.cursor)
        if record.id == run.id:
            self.bus.publish(
                FLOW_RUN_SKIPPED,
                RunSkipped(flow_id=run.flow_id, run_id=run.id, reason=reason, skipped_count=1),
            )
            await self.store.prune(run.flow_id, self.runs_kept)
        return record

    def _new_run(self, plan: Plan, state: RunState) -> FlowRun:
        return FlowRun(
            id=plan.run_id or str(uuid.uuid4()),
            flow_id=plan.target.flow_id,
            flow_version=plan.target.version,
            node_id=self.node_id,
            state=state,
            trigger=plan.trigger,
            inputs=plan.inputs,
            outputs={},
            created_at=self.clock.now(),
            parent_run_id=plan.parent_run_id,
            rerun_of=plan.rerun_of,
            steps=plan.steps,
        )

    async def start(self, plan: Plan) -> FlowRun:
        """Insert the run (once: a slot's id is inserted at most once) and launch it."""
        run = self._new_run(plan, "queued")
        inserted = await self.store.insert_run(
            run,
            definition=plan.target.definition_json,
            depth=plan.depth,
            cursor=plan.cursor,
            position=plan.position,
            step_positions={s.id: i for i, s in enumerate(plan.target.definition.steps)},
        )
        if not inserted:
            return await self.store.run(run.id) or run
        if plan.cursor is not None:
            await self.on_cursor(plan.cursor)
        publish_run(self.bus, run)
        self.launch(run.id, child=plan.parent_run_id is not None)
        return run

    def launch(self, run_id: str, *, child: bool = False) -> None:
        self._done.setdefault(run_id, anyio.Event())
        self.spawn(f"flows.run-{run_id}", lambda: self._drive(run_id, child))

    # The job ---------------------------------------------------------------------------

    async def _drive(self, run_id: str, child: bool) -> None:
        scope = self._scopes[run_id] = anyio.CancelScope()
        flow_id: str | None = None
        try:
            with scope:
                run, place = await self.store.run(run_id), await self.store.place(run_id)
                if run is None or place is None or run.state in FINISHED_RUN_STATES:
                    return
                flow_id = run.flow_id
                if place.definition is None:
                    raise RuntimeError("the run lost its definition")
                definition = FlowDefinition.model_validate_json(place.definition)
                if definition.mode == "queued" and not child:
                    await self._wait_turn(run)
                async with _Hold(None if child else self._limiter):
                    runner = Runner(
                        run=run,
                        definition=definition,
                        store=self.store,
                        bus=self.bus,
                        clock=self.clock,
                        actions=self.actions,
                        sub_flow=SubFlows(self, place.depth).run,
                        foreign=await self.foreign_of(run.flow_id),
                        position=place.position,
                        executions=place.executions,
                    )
                    await runner.go()
            if scope.cancelled_caught or run_id in self._cancelling:
                await self._mark_cancelled(run_id, self._cancelling.get(run_id, "cancelled"))
            if flow_id is not None:
                await self.store.prune(flow_id, self.runs_kept)
        finally:
            self._scopes.pop(run_id, None)
            self._cancelling.pop(run_id, None)
            done = self._done.pop(run_id, None)
            if done is not None:
                done.set()
            if flow_id is not None:
                self._turn_changed.pop(flow_id, anyio.Event()).set()

    async def _wait_turn(self, run: FlowRun) -> None:
        while True:
            changed = self._turn_changed.setdefault(run.flow_id, anyio.Event())
            active = await self.store.active_runs(run.flow_id)
            if not active or active[0].id == run.id:
                return
            await changed.wait()

    def cancelling(self, run_id: str) -> bool:
        return run_id in self._cancelling

    async def finished(self, run_id: str) -> None:
        """Return once the run's job has ended (at once when none runs)."""
        done = self._done.get(run_id)
        if done is not None:
            await done.wait()

    # Cancel and resume ---------------------------------------------------------------

    async def cancel(self, run_id: str, reason: str = "cancelled") -> FlowRun | None:
        scope = self._scopes.get(run_id)
        if scope is not None:
            self._cancelling[run_id] = reason
            scope.cancel()
            await self.finished(run_id)
        else:
            await self._mark_cancelled(run_id, reason)
        return await self.store.run(run_id)

    async def _mark_cancelled(self, run_id: str, reason: str) -> None:
        run = await self.store.run(run_id)
        if run is None or run.state in FINISHED_RUN_STATES:
            return
        now = self.clock.now()
        for step in run.steps:
            if step.state in ("pending", "running", "waiting", "interrupted"):
                await self.store.cancel_step(run_id, step.id, now)
                self.bus.publish(FLOW_STEP, StepChanged(flow_id=run.flow_id, run_id=run.id,
                    step_id=step.id, state="cancelled", attempt=step.attempts))  # fmt: skip
        run.state, run.error, run.finished_at = "cancelled", reason, now
        run.duration_ms = None if run.started_at is None else (now - run.started_at) * 1000
        await self.store.update_run(run)
        publish_run(self.bus, run)
        self._turn_changed.pop(run.flow_id, anyio.Event()).set()

    async def resume(self) -> int:
        """After a start: unfinished runs of this node go on; answers how many."""
        runs = await self.store.unfinished(self.node_id)
        for run in runs:
            if run.state in ("running", "waiting", "interrupted"):
                if run.state == "running":
                    run.state = "interrupted"
                    await self.store.update_run(run)
                    publish_run(self.bus, run)
                run.resumed += 1
                await self.store.update_run(run)
        # All launched before any job runs, so a resumed parent finds its child's job.
        for run in runs:
            self.launch(run.id, child=run.parent_run_id is not None)
        return len(runs)

    async def cancel_all_of(self, flow_id: str) -> None:
        for run in await self.store.active_runs(flow_id):
            await self.cancel(run.id, "cancelled: the flow was deleted")


class _Hold:
    """A place in the node's limiter (none for sub-flows)."""

    def __init__(self, limiter: anyio.CapacityLimiter | None) -> None:
        self.limiter = limiter

    async def __aenter__(self) -> None:
        if self.limiter is not None:
            await self.limiter.acquire()

    async def __aexit__(self, *exc: object) -> None:
        if self.limiter is not None:
            self.limiter.release()
