"""Flows' runs through the API: start one by hand (on the flow's owner), list and read them
cluster-wide, delete, cancel and rerun them. The `*_here` methods are what members ask of
this node too."""

from __future__ import annotations

import logging

from agent.core.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from agent.flows.clock import Clock
from agent.flows.engine.plans import Plan
from agent.flows.engine.runs import slot_run_id
from agent.flows.inputs import check_inputs
from agent.flows.models import (
    FINISHED_RUN_STATES,
    RUNS_KEPT,
    FlowRun,
    RerunBody,
    RunBody,
    RunDeleted,
    RunList,
    RunTrigger,
)
from agent.flows.ports import FlowsCluster
from agent.flows.records import sign_cursor
from agent.flows.service import FlowService
from agent.flows.store import FlowStore
from agent.flows.triggers import Firing

log = logging.getLogger("openfabric")


def run_missing(run_id: str) -> NotFound:
    return NotFound(f"no run {run_id[:80]!r} of this flow", code="FLOW_RUN_NOT_FOUND")


class RunService:
    def __init__(
        self, flows: FlowService, store: FlowStore, cluster: FlowsCluster, clock: Clock
    ) -> None:
        self.flows, self.store, self.cluster, self.clock = flows, store, cluster, clock

    async def run(self, flow_id: str, body: RunBody) -> FlowRun:
        loaded = self.flows.loaded(flow_id)
        if loaded.definition is not None:
            check_inputs(loaded.definition, body.inputs)  # refused here, not on the owner
        owner = self.flows.owner(loaded)
        if owner is None:
            raise ServiceUnavailable(
                f"no member can run flow {flow_id} now (its node is offline)",
                code="FLOW_OWNER_UNREACHABLE",
            )
        if owner != self.flows.node_id:
            return await self.cluster.forward_run(owner, flow_id, body)
        return await self.run_here(flow_id, body, foreign=False)

    async def run_here(self, flow_id: str, body: RunBody, *, foreign: bool) -> FlowRun:
        loaded = self.flows.loaded(flow_id)
        target = self.flows.target(loaded)
        inputs = check_inputs(target.definition, body.inputs)
        trigger = RunTrigger(kind="manual", at=self.clock.now(), payload={})
        return await self.flows.engine.admit(Plan(target=target, trigger=trigger, inputs=inputs))

    async def runs(self, flow_id: str, limit: int = RUNS_KEPT) -> RunList:
        self.flows.loaded(flow_id)
        local = await self.store.runs_of(flow_id, limit)
        remote = await self.cluster.remote_runs(flow_id, limit)
        # By member and id: a slot run on two members shows twice, as it happened.
        seen: dict[tuple[str, str], FlowRun] = {}
        for run in [*local, *remote]:
            seen.setdefault((run.node_id, run.id), run.model_copy(update={"steps": []}))
        runs = sorted(seen.values(), key=lambda r: (r.created_at, r.id), reverse=True)[:limit]
        return RunList(runs=runs, count=len(runs))

    async def local_run(self, flow_id: str, run_id: str) -> FlowRun | None:
        run = await self.store.run(run_id)
        return run if run is not None and run.flow_id == flow_id else None

    async def get_run(self, flow_id: str, run_id: str) -> FlowRun:
        self.flows.loaded(flow_id)
        run = await self.local_run(flow_id, run_id)
        if run is None:
            run = await self.cluster.remote_run(flow_id, run_id)
        if run is None:
            raise run_missing(run_id)
        return run

    async def delete_run_here(self, run_id: str) -> bool:
        run = await self.store.run(run_id)
        if run is None:
            return False
        if run.state not in FINISHED_RUN_STATES:
            raise Conflict(f"run {run_id} is {run.state}: cancel it first", code="FLOW_RUN_ACTIVE")
        return await self.store.delete_run(run_id)

    async def delete_run(self, flow_id: str, run_id: str) -> RunDeleted:
        self.flows.loaded(flow_id)
        if await self.local_run(flow_id, run_id) is not None:
            deleted = await self.delete_run_here(run_id)
        else:
            deleted = await self.cluster.delete_remote_run(flow_id, run_id)
        if not deleted:
            raise run_missing(run_id)
        return RunDeleted(id=run_id, deleted=True)

    async def cancel(self, flow_id: str, run_id: str) -> FlowRun:
        self.flows.loaded(flow_id)
        if await self.local_run(flow_id, run_id) is not None:
            return await self.cancel_here(run_id)
        cancelled = await self.cluster.cancel_remote_run(flow_id, run_id)
        if cancelled is None:
            raise run_missing(run_id)
        return cancelled

    async def cancel_here(self, run_id: str) -> FlowRun:
        """Cancel a run stored here (also what a member asks)."""
        run = await self.store.run(run_id)
        if run is None:
            raise run_missing(run_id)
        if run.state in FINISHED_RUN_STATES:
            raise Conflict(f"run {run_id} has ended ({run.state})", code="FLOW_RUN_FINISHED")
        cancelled = await self.flows.engine.cancel(run_id, "cancelled from the API")
        if cancelled is None:
            raise run_missing(run_id)
        return cancelled

    async def rerun(self, flow_id: str, run_id: str, body: RerunBody) -> FlowRun:
        self.flows.loaded(flow_id)
        if await self.local_run(flow_id, run_id) is not None:
            return await self.rerun_here(flow_id, run_id, body, foreign=False)
        forwarded = await self.cluster.forward_rerun(flow_id, run_id, body)
        if forwarded is None:
            raise run_missing(run_id)
        return forwarded

    async def rerun_here(
        self, flow_id: str, run_id: str, body: RerunBody, *, foreign: bool
    ) -> FlowRun:
        target = self.flows.target(self.flows.loaded(flow_id))
        run = await self.local_run(flow_id, run_id)
        if run is None:
            raise run_missing(run_id)
        if run.state not in FINISHED_RUN_STATES:
            raise Conflict(f"run {run_id} is {run.state}", code="FLOW_RUN_ACTIVE")
        order = [step.id for step in target.definition.steps]
        rows = {step.id: step for step in run.steps}
        if body.from_step is not None and body.from_step not in order:
            raise BadRequest(
                f"flow {flow_id} has no step {body.from_step!r}",
                code="FLOW_STEP_NOT_FOUND",
                details={"steps": order},
            )
        start = body.from_step or next(
            (s for s in order if s not in rows or rows[s].state != "succeeded"), order[0]
        )
        position = order.index(start)
        copied = [rows[s] for s in order[:position] if s in rows]
        plan = Plan(
            target=target,
            trigger=RunTrigger(kind="rerun", at=self.clock.now(), payload=run.trigger.payload),
            inputs=run.inputs,
            rerun_of=run.id,
            steps=copied,
            position=position,
        )
        return await self.flows.engine.admit(plan)

    async def fire(self, firing: Firing) -> None:
        loaded = self.flows.find_id(firing.flow_id)
        if loaded is None or loaded.definition is None or not loaded.stored.record.enabled:
            return
        target = self.flows.target(loaded)
        try:
            inputs = check_inputs(loaded.definition, {})
        except BadRequest as exc:
            log.warning("flow %s cannot run from its trigger: %s", firing.flow_id, exc.message)
            return
        plan = Plan(target=target, trigger=RunTrigger(kind=firing.kind, at=firing.at,
                    payload=dict(firing.payload)), inputs=inputs)  # fmt: skip
        if firing.kind in ("cron", "interval"):
            plan.run_id = slot_run_id(firing.flow_id, firing.trigger_index, firing.slot)
            plan.cursor = sign_cursor(
                self.flows.identity,
                flow_id=firing.flow_id,
                trigger_index=firing.trigger_index,
                fired_at=firing.at,
            )
        await self.flows.engine.admit(plan)
