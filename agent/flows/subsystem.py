"""The flows subsystem object and `create(ctx)`.

start(): the tables, a client of this agent's own API for the actions, the engine, the
cluster part (pull from members before owning anything), then the runs this node left
unfinished go on and the triggers this node owns are armed. stop(): the client is closed
(every job using it has ended by then).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.client import AgentClient, ClientError
from agent.core.loopback import local_token, local_url
from agent.core.subsystem import Context
from agent.flows import relay
from agent.flows.actions.base import Action
from agent.flows.actions.registry import build_actions
from agent.flows.clock import Clock, WallClock
from agent.flows.cluster import FlowsClusterImpl
from agent.flows.engine.runs import Runs
from agent.flows.inputs import check_inputs
from agent.flows.models import FlowRun, RerunBody, RunBody
from agent.flows.peer_routes import build_peer_routes
from agent.flows.routes import build_routes
from agent.flows.service import FlowService
from agent.flows.service_runs import RunService
from agent.flows.store import FlowStore
from agent.flows.triggers import Firing, Triggers


class FlowsSubsystem:
    name = "flows"

    def __init__(self, ctx: Context, *, clock: Clock | None = None) -> None:
        self.ctx = ctx
        self.clock = clock or WallClock()
        self.store = FlowStore(ctx.db)
        self.triggers = Triggers(
            bus=ctx.bus,
            clock=self.clock,
            fire=self._fire,
            last_fired=self.store.last_fired,
            list_storage=self._list_storage,
        )
        self.cluster = FlowsClusterImpl(
            ctx,
            self.store,
            on_merged=lambda records: self.service.merged(records),
            run_here=self._run_here,
            rerun_here=self._rerun_here,
            run_of=self.store.run,
            runs_of=self.store.runs_of,
            delete_run=lambda run_id: self.runs.delete_run_here(run_id),
            cancel_run=lambda run_id: self.runs.cancel_here(run_id),
            take_fire=lambda body: relay.take(self.service, self.triggers, body),
        )
        self.service = FlowService(
            store=self.store,
            bus=ctx.bus,
            clock=self.clock,
            identity=ctx.identity,
            cluster=self.cluster,
            triggers=self.triggers,
        )
        self.runs = RunService(self.service, self.store, self.cluster, self.clock)
        self.actions: dict[str, Action] = {}
        self.client: AgentClient | None = None

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service, self.runs)

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.cluster)

    async def start(self) -> None:
        ctx = self.ctx
        await self.store.migrate()
        self.client = AgentClient(local_url(ctx.settings), token=local_token(ctx.settings))
        self.actions.update(build_actions(ctx, self.client, clock=self.clock))
        engine = Runs(
            store=self.store,
            bus=ctx.bus,
            clock=self.clock,
            node_id=ctx.identity.node_id,
            spawn=ctx.spawn,
            actions=self.actions,
            max_active=ctx.settings.flows_max_active_runs,
            runs_kept=ctx.settings.flows_runs_kept,
            find_flow=self.service.find_target,
            check_inputs=check_inputs,
            foreign_of=self.service.foreign_of,
            on_cursor=self.cluster.announce_cursor,
        )
        self.service.use_runs(engine)
        await self.service.load()
        await self.cluster.start()
        await engine.resume()
        self.service.rearm()
        ctx.spawn("flows.triggers", self.triggers.run)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _fire(self, firing: Firing) -> None:
        if firing.relay:
            loaded = self.service.find_id(firing.flow_id)
            owner = self.service.owner(loaded) if loaded is not None else None
            if owner is None:
                return  # deleted, or no member runs it now: nobody to hand it to
            if owner != self.ctx.identity.node_id:
                await self.cluster.relay(owner, firing)
                return
            # Owned here since it was armed: the owner's own watch was not armed for it.
        await self.runs.fire(firing)

    async def _run_here(self, flow_id: str, body: RunBody, *, foreign: bool) -> FlowRun:
        return await self.runs.run_here(flow_id, body, foreign=foreign)

    async def _rerun_here(
        self, flow_id: str, run_id: str, body: RerunBody, *, foreign: bool
    ) -> FlowRun:
        return await self.runs.rerun_here(flow_id, run_id, body, foreign=foreign)

    async def _list_storage(self) -> dict[str, str]:
        if self.client is None:
            return {}
        try:
            listing = await self.client.storage_list()
        except ClientError:
            return {}
        return {stored.path: stored.sha256 for stored in listing.files}


def create(ctx: Context) -> FlowsSubsystem:
    return FlowsSubsystem(ctx)
