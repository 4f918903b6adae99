"""Flows across the cluster, as the flows service sees them: who owns a flow's triggers,
pushing what is saved here, pulling what members saved, and other members' runs.

A single-node agent takes the same path: with no other member it settles at once and owns
every flow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

from agent.core.cluster import OFFLINE, MemberView
from agent.core.subsystem import Context
from agent.flows.models import FlowRun, RerunBody, RunBody
from agent.flows.ownership import MEMBER_TOPICS, SETTLE_BOUND_S, Ownership
from agent.flows.peer_wire import FireBody
from agent.flows.records import Cursor, FlowRecord
from agent.flows.relay import RelaySender
from agent.flows.remote import RemoteRuns
from agent.flows.replication import OnMerged, RecordStore, Replicator
from agent.flows.triggers import Firing

log = logging.getLogger("openfabric.flows")
SETTLE_RETRY_S = 0.5


class RunHere(Protocol):
    async def __call__(self, flow_id: str, body: RunBody, *, foreign: bool) -> FlowRun: ...


class RerunHere(Protocol):
    async def __call__(
        self, flow_id: str, run_id: str, body: RerunBody, *, foreign: bool
    ) -> FlowRun: ...


RunOf = Callable[[str], Awaitable[FlowRun | None]]
RunsOf = Callable[[str, int], Awaitable[list[FlowRun]]]
DeleteRun = Callable[[str], Awaitable[bool]]
CancelRun = Callable[[str], Awaitable[FlowRun]]
TakeFire = Callable[[FireBody], Awaitable[bool]]


class FlowsClusterImpl:
    """`FlowsCluster` for the flows service. The callbacks are the service's: `on_merged`
    (records that changed the store, after a push or a pull), `run_here`/`rerun_here` (a
    member asks this node to run; `foreign` when the flow's author is another node),
    `run_of(run_id)`, `runs_of(flow_id, limit)`, `delete_run(run_id)` and `cancel_run(run_id)`
    (runs stored here; delete_run may raise 409 FLOW_RUN_ACTIVE, cancel_run 409
    FLOW_RUN_FINISHED), `take_fire` (an event a member relayed; see relay.take)."""

    def __init__(
        self,
        ctx: Context,
        store: RecordStore,
        *,
        on_merged: OnMerged,
        run_here: RunHere,
        rerun_here: RerunHere,
        run_of: RunOf,
        runs_of: RunsOf,
        delete_run: DeleteRun,
        cancel_run: CancelRun,
        take_fire: TakeFire,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.node_id = ctx.identity.node_id
        self.run_here = run_here
        self.rerun_here = rerun_here
        self.run_of = run_of
        self.runs_of = runs_of
        self.delete_run = delete_run
        self.cancel_run = cancel_run
        self.take_fire = take_fire
        cluster = ctx.cluster
        refused = ctx.metrics.counter(
            "flows_records_refused",
            "Flow records and cursors from members refused, by reason",
            ["reason"],
        )
        self.replicator = Replicator(
            node_id=self.node_id,
            cluster=cluster,
            peers=ctx.peers,
            store=store,
            clock=ctx.clock,
            on_merged=on_merged,
            refused=refused,
        )
        self.ownership = Ownership(cluster, ctx.bus)
        self.remote = RemoteRuns(cluster, ctx.peers)
        self.relays = RelaySender(cluster, ctx.peers, ctx.metrics)

    # -- FlowsCluster --

    def owner_of(self, flow_id: str, runs_on: str | None) -> str | None:
        return self.ownership.owner_of(flow_id, runs_on)

    def on_owners_changed(self, callback: Callable[[], None]) -> None:
        self.ownership.on_owners_changed(callback)

    async def announce(self, record: FlowRecord) -> None:
        await self.replicator.announce(record)

    async def announce_cursor(self, cursor: Cursor) -> None:
        await self.replicator.announce_cursor(cursor)

    async def remote_runs(self, flow_id: str, limit: int) -> list[FlowRun]:
        return await self.remote.runs(flow_id, limit)

    async def remote_run(self, flow_id: str, run_id: str) -> FlowRun | None:
        return await self.remote.run(flow_id, run_id)

    async def delete_remote_run(self, flow_id: str, run_id: str) -> bool:
        return await self.remote.delete(flow_id, run_id)

    async def cancel_remote_run(self, flow_id: str, run_id: str) -> FlowRun | None:
        return await self.remote.cancel(flow_id, run_id)

    async def forward_run(self, owner: str, flow_id: str, body: RunBody) -> FlowRun:
        return await self.remote.forward_run(owner, flow_id, body)

    async def relay(self, owner: str, firing: Firing) -> bool:
        return await self.relays.send(owner, firing)

    async def forward_rerun(self, flow_id: str, run_id: str, body: RerunBody) -> FlowRun | None:
        return await self.remote.forward_rerun(flow_id, run_id, body)

    async def start(self) -> None:
        self.ctx.cluster.on_change(self._cluster_changed)
        self.ctx.spawn("flows.cluster-pushes", self.replicator.run_pushes)
        self.ctx.spawn("flows.cluster-members", self._watch_members)
        self.ctx.spawn("flows.cluster-sync", self._settle_then_sync)

    async def stop(self) -> None:
        return None

    # -- background --

    async def _settle_then_sync(self) -> None:
        await self.settle()
        await self.replicator.run()

    async def settle(self) -> None:
        """Sync with every member (whatever its liveness: none is known yet at start) until
        each has answered, is seen online here and sees this node online; then own flows."""
        pending = {m.node_id for m in self.replicator.others()}
        deadline = time.monotonic() + SETTLE_BOUND_S
        while pending and time.monotonic() < deadline:
            members = [m for m in self.replicator.others() if m.node_id in pending]
            pending = {m.node_id for m in members}
            async with anyio.create_task_group() as tg:
                for member in members:
                    tg.start_soon(self._settle_with, member, pending)
            if pending:
                await anyio.sleep(SETTLE_RETRY_S)
        if pending:
            log.info("flows settled without hearing from %s", ", ".join(sorted(pending)))
        self.ownership.settle()

    async def _settle_with(self, member: MemberView, pending: set[str]) -> None:
        with anyio.move_on_after(SETTLE_BOUND_S):
            digest = await self.replicator.sync_quietly(member)
            seen = self.ctx.cluster.state_of(member.node_id) != OFFLINE
            if digest is not None and self.node_id in digest.online and seen:
                pending.discard(member.node_id)

    async def _watch_members(self) -> None:
        subscription = self.ctx.bus.subscribe(MEMBER_TOPICS)
        try:
            async for event in subscription:
                self.ownership.recheck()
                if event.topic == "node.online":
                    self.replicator.sync_soon()
        finally:
            self.ctx.bus.unsubscribe(subscription)

    async def _cluster_changed(self) -> None:
        self.ownership.recheck()
        self.replicator.sync_soon()
