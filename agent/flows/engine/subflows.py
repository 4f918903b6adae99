"""The `flow.run` step: a child run (`parent_run_id`) awaited by its parent; its outputs are
the step's. At most MAX_DEPTH levels. The child's id comes from the parent's step and
attempt, and a resumed step adopts the child its cut attempt started, so a restart never
runs a sub-flow twice for one attempt."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import anyio

from agent.core.errors import ApiError
from agent.flows.actions.base import StepFailed
from agent.flows.actions.params import FlowRunParams
from agent.flows.definition import Step
from agent.flows.engine.plans import Plan
from agent.flows.models import FlowRun, RunTrigger

if TYPE_CHECKING:
    from agent.flows.engine.runs import Runs

MAX_DEPTH = 8
CHILD_IDS = uuid.UUID("1d3c0f5e-2b7a-4f4e-8a59-93e0c1f6a2d4")


class SubFlows:
    def __init__(self, runs: Runs, depth: int) -> None:
        self.runs, self.depth = runs, depth

    async def run(
        self, parent: FlowRun, step: Step, params: FlowRunParams, attempt: int
    ) -> dict[str, Any]:
        runs = self.runs
        if self.depth + 1 > MAX_DEPTH:
            raise StepFailed(f"sub-flows nest deeper than {MAX_DEPTH}")
        target = await runs.find_flow(params.flow)
        if target is None:
            raise StepFailed(f"there is no flow {params.flow!r}")
        try:
            inputs = runs.check_inputs(target.definition, params.inputs)
        except ApiError as exc:
            raise StepFailed(f"inputs of {params.flow}: {exc.message}") from None
        # A parent runs one step at a time: an unfinished child is this step's.
        adopted = await runs.store.children(parent.id)
        if adopted:
            return await self._outcome(target.flow_id, adopted[0], parent)
        trigger = RunTrigger(
            kind="flow",
            at=runs.clock.now(),
            payload={"parent_run_id": parent.id, "flow_id": parent.flow_id},
        )
        plan = Plan(
            target=target,
            trigger=trigger,
            inputs=inputs,
            run_id=str(uuid.uuid5(CHILD_IDS, f"{parent.id}/{step.id}/{attempt}")),
            parent_run_id=parent.id,
            depth=self.depth + 1,
        )
        child = await runs.start(plan)
        return await self._outcome(target.flow_id, child.id, parent)

    async def _outcome(self, flow_id: str, child_id: str, parent: FlowRun) -> dict[str, Any]:
        runs = self.runs
        try:
            await runs.finished(child_id)
        except anyio.get_cancelled_exc_class():
            if runs.cancelling(parent.id):
                with anyio.CancelScope(shield=True):
                    await runs.cancel(child_id, "cancelled with its parent run")
            raise
        ended = await runs.store.run(child_id)
        if ended is None or ended.state != "succeeded":
            state = ended.state if ended else "deleted"
            error = ended.error if ended else None
            raise StepFailed(f"sub-flow {flow_id} {state}: {error}")
        return ended.outputs
