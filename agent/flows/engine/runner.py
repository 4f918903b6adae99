"""One run's step loop: steps in order from the run's position, `on_error` after a step's
last attempt, outputs at the end. Every transition is persisted before it is published.

A run's position and execution count are persisted with each step, so a restart resumes at
the first step that did not finish. At most MAX_EXECUTIONS step executions per run: a goto
loop ends the run failed, saying so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from agent.core.bus import EventBus
from agent.flows.actions.base import Action, StepCall, StepFailed
from agent.flows.actions.params import FlowRunParams, WaitParams
from agent.flows.clock import Clock
from agent.flows.definition import FlowDefinition, Step
from agent.flows.engine.attempts import execute
from agent.flows.engine.scope import bounded_logs, off_loop, run_scope
from agent.flows.engine.waits import wait_step
from agent.flows.events import FLOW_RUN, FLOW_STEP, RunChanged, StepChanged
from agent.flows.expressions import ExpressionError, compile_template
from agent.flows.models import MAX_LOG_LINE, MAX_LOG_LINES, FlowRun, RunState, StepRun
from agent.flows.store import FlowStore

MAX_EXECUTIONS = 1000
# Runs a sub-flow for a step and answers its outputs (StepFailed when it did not succeed).
SubFlow = Callable[[FlowRun, Step, FlowRunParams, int], Awaitable[dict[str, Any]]]


def fresh_step(step: Step) -> StepRun:
    return StepRun(id=step.id, uses=step.uses, state="pending", attempts=0, inputs={},
                   outputs={}, logs=[])  # fmt: skip


def publish_run(bus: EventBus, run: FlowRun) -> None:
    bus.publish(
        FLOW_RUN,
        RunChanged(
            flow_id=run.flow_id,
            run_id=run.id,
            state=run.state,
            trigger=run.trigger.kind,
            node_id=run.node_id,
            error=run.error,
            duration_ms=run.duration_ms,
        ),
    )


@dataclass
class Runner:
    run: FlowRun
    definition: FlowDefinition
    store: FlowStore
    bus: EventBus
    clock: Clock
    actions: dict[str, Action]
    sub_flow: SubFlow
    foreign: bool
    position: int = 0
    executions: int = 0
    records: dict[str, StepRun] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.records = {step.id: step for step in self.run.steps}
        self._index = {step.id: i for i, step in enumerate(self.definition.steps)}

    async def go(self) -> None:
        run = self.run
        run.state, run.error = "running", None
        if run.started_at is None:
            run.started_at = self.clock.now()
        await self._save_run()
        steps = self.definition.steps
        while self.position < len(steps):
            if self.executions >= MAX_EXECUTIONS:
                return await self._end("failed", f"more than {MAX_EXECUTIONS} step executions "
                                       "(does a goto loop forever?)")  # fmt: skip
            step = steps[self.position]
            record = self.records.get(step.id)
            if record is None or record.state not in ("pending", "running", "waiting"):
                record = self.records[step.id] = fresh_step(step)
            self.executions += 1
            await self.store.update_run(run, position=self.position, executions=self.executions)
            await execute(self, step, record, lambda attempt: self._scope(attempt))
            if record.state != "failed" or step.on_error == "continue":
                self.position += 1
            elif step.goto is not None:
                self.position = self._index[step.goto]
            else:
                return await self._end("failed", f"step {step.id} failed: {record.error}")
        try:
            template = compile_template(dict(self.definition.outputs))
            outputs = await off_loop(template.render, self._scope(1))
        except ExpressionError as exc:
            return await self._end("failed", f"outputs: {exc}")
        run.outputs = outputs if isinstance(outputs, dict) else {}
        await self._end("succeeded", None)

    def _scope(self, attempt: int) -> dict[str, Any]:
        return run_scope(
            self.run, self.definition, self.records, attempt=attempt, now=self.clock.now()
        )

    async def _end(self, state: str, error: str | None) -> None:
        run = self.run
        run.state, run.error = state, error  # type: ignore[assignment]
        run.finished_at = self.clock.now()
        started = run.started_at if run.started_at is not None else run.finished_at
        run.duration_ms = (run.finished_at - started) * 1000
        await self._save_run()

    async def _save_run(self) -> None:
        await self.store.update_run(self.run, position=self.position, executions=self.executions)
        publish_run(self.bus, self.run)

    # StepHost ------------------------------------------------------------------------

    async def save_step(self, record: StepRun, attempt: int) -> None:
        await self.store.save_step(self.run.id, self._index[record.id], record)
        self.bus.publish(
            FLOW_STEP,
            StepChanged(
                flow_id=self.run.flow_id,
                run_id=self.run.id,
                step_id=record.id,
                state=record.state,
                attempt=attempt,
                error=record.error,
                duration_ms=record.duration_ms,
            ),
        )
        waits = record.state == "waiting" and record.error is None
        wanted: RunState = "waiting" if waits else "running"
        if self.run.state != wanted:
            self.run.state = wanted
            await self._save_run()

    async def call(
        self,
        step: Step,
        params: BaseModel,
        record: StepRun,
        attempt: int,
        deadline: float | None,
        wake_at: float | None,
    ) -> dict[str, Any]:
        if isinstance(params, WaitParams):

            async def mark_waiting(until: float | None) -> None:
                record.state, record.wake_at = "waiting", until
                await self.save_step(record, attempt)

            return await wait_step(
                params, bus=self.bus, clock=self.clock, wake_at=wake_at, mark_waiting=mark_waiting
            )
        if isinstance(params, FlowRunParams):
            return await self.sub_flow(self.run, step, params, attempt)
        action = self.actions.get(step.uses)
        if action is None:
            raise StepFailed(f"{step.uses} is not available on this node")

        def log(line: str) -> None:
            record.logs = bounded_logs(record.logs, line, MAX_LOG_LINES, MAX_LOG_LINE)

        call = StepCall(
            flow_id=self.run.flow_id,
            flow_name=self.definition.name,
            run_id=self.run.id,
            step_id=step.id,
            attempt=attempt,
            params=params,
            foreign=self.foreign,
            log=log,
            deadline=deadline,
        )
        return await action.run(call)
