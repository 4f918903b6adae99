"""In-process flows members for tests: the real store on real SQLite, the real replication,
ownership and peer routes, a cluster view that knows the members it is told of, and peer
requests answered in-process by the other members' peer routes (their signature taken as
checked, as the peer listener would)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.core.bus import EventBus
from agent.core.capabilities import Capabilities
from agent.core.cluster import MemberView, OnClusterChange
from agent.core.db import Database
from agent.core.errors import EXCEPTION_HANDLERS, BadRequest, Conflict
from agent.core.metrics import Metrics
from agent.core.subsystem import Context
from agent.flows.cluster import FlowsClusterImpl
from agent.flows.models import FlowRun, RerunBody, RunBody, RunTrigger
from agent.flows.peer_routes import build_peer_routes
from agent.flows.peer_wire import FireBody
from agent.flows.records import FlowRecord, sign_record
from agent.flows.store import FlowStore
from agent.peer.client import PeerTarget, PeerUnreachable
from agent.peer.identity import Identity, load_or_create_identity
from agent.settings import Settings

SOURCE = "name: Nightly\nsteps:\n  - id: pause\n    uses: wait\n    with: {duration: 0s}\n"


def member_view(node_id: str, state: str = "online", name: str | None = None) -> MemberView:
    return MemberView(
        node_id=node_id,
        name=name or node_id,
        is_self=False,
        state=state,
        addresses=("127.0.0.1",),
        peer_port=1,
        fingerprint="",
        version="test",
        joined_at=0.0,
        last_seen=0.0,
        telemetry=None,
        capabilities=Capabilities(),
        target=PeerTarget(node_id, ("127.0.0.1",), 1, ""),
    )


@dataclass
class StubCluster:
    """This node and `others`; a node is a member while it is in `others`, and a former one
    while `departed` holds its status ("left" or "evicted")."""

    node_id: str
    name: str = "self"
    others: list[MemberView] = field(default_factory=list)
    departed: dict[str, str] = field(default_factory=dict)
    cluster_id: str | None = "cluster"
    listeners: list[OnClusterChange] = field(default_factory=list)

    def me(self) -> MemberView:
        return replace(member_view(self.node_id, name=self.name), is_self=True)

    def members(self) -> list[MemberView]:
        return [self.me(), *self.others]

    def member(self, node_id: str) -> MemberView | None:
        return next((m for m in self.members() if m.node_id == node_id), None)

    def state_of(self, node_id: str) -> str:
        member = self.member(node_id)
        return "offline" if member is None else member.state

    def ever_known(self, node_id: str) -> bool:
        return self.member(node_id) is not None or node_id in self.departed

    def status_of(self, node_id: str) -> str | None:
        return "member" if self.member(node_id) is not None else self.departed.get(node_id)

    def depart(self, node_id: str, status: str) -> None:
        self.others = [m for m in self.others if m.node_id != node_id]
        self.departed[node_id] = status

    def on_change(self, callback: OnClusterChange) -> None:
        self.listeners.append(callback)

    def hint_addresses(self, node_id: str, addresses: tuple[str, ...]) -> None:
        return None

    def set_state(self, node_id: str, state: str) -> None:
        self.others = [replace(m, state=state) if m.node_id == node_id else m for m in self.others]


@dataclass
class Service:
    """Stands for the flows service's side: runs kept in memory, calls recorded."""

    node_id: str
    runs: dict[str, FlowRun] = field(default_factory=dict)
    merged: list[FlowRecord] = field(default_factory=list)
    started: list[tuple[str, RunBody, bool]] = field(default_factory=list)
    active: set[str] = field(default_factory=set)
    fired: list[FireBody] = field(default_factory=list)

    async def on_merged(self, records: list[FlowRecord]) -> None:
        self.merged.extend(records)

    def add_run(self, flow_id: str, run_id: str, created_at: float) -> FlowRun:
        run = FlowRun(
            id=run_id,
            flow_id=flow_id,
            flow_version=1,
            node_id=self.node_id,
            state="succeeded",
            trigger=RunTrigger(kind="manual", at=created_at),
            inputs={},
            outputs={},
            created_at=created_at,
        )
        self.runs[run_id] = run
        return run

    async def run_here(self, flow_id: str, body: RunBody, *, foreign: bool) -> FlowRun:
        self.started.append((flow_id, body, foreign))
        return self.add_run(flow_id, f"manual-{len(self.started)}", time.time())

    async def rerun_here(
        self, flow_id: str, run_id: str, body: RerunBody, *, foreign: bool
    ) -> FlowRun:
        if body.from_step == "nope":
            raise BadRequest("no step nope", code="FLOW_STEP_NOT_FOUND")
        again = self.add_run(flow_id, f"{run_id}-again", time.time())
        return again.model_copy(update={"rerun_of": run_id})

    async def run_of(self, run_id: str) -> FlowRun | None:
        return self.runs.get(run_id)

    async def runs_of(self, flow_id: str, limit: int) -> list[FlowRun]:
        mine = [r for r in self.runs.values() if r.flow_id == flow_id]
        return sorted(mine, key=lambda r: r.created_at, reverse=True)[:limit]

    async def delete_run(self, run_id: str) -> bool:
        if run_id in self.active:
            raise Conflict("the run is active", code="FLOW_RUN_ACTIVE")
        return self.runs.pop(run_id, None) is not None

    async def cancel_run(self, run_id: str) -> FlowRun:
        run = self.runs[run_id]
        if run_id not in self.active:
            raise Conflict("the run has ended", code="FLOW_RUN_FINISHED")
        self.active.discard(run_id)
        cancelled = run.model_copy(update={"state": "cancelled"})
        self.runs[run_id] = cancelled
        return cancelled

    async def take_fire(self, body: FireBody) -> bool:
        self.fired.append(body)
        return True


@dataclass
class Member:
    identity: Identity
    ctx: Context
    cluster: StubCluster
    store: FlowStore
    service: Service
    flows: FlowsClusterImpl
    peers: LinkedPeers

    @property
    def node_id(self) -> str:
        return self.identity.node_id

    def view(self, state: str = "online") -> MemberView:
        return member_view(self.node_id, state, self.cluster.name)

    def sign(self, flow_id: str = "nightly", version: int = 1, **fields: Any) -> FlowRecord:
        values: dict[str, Any] = {
            "updated_at": time.time(),
            "deleted": False,
            "enabled": True,
            "format": "yaml",
            "source": SOURCE,
            **fields,
        }
        return sign_record(self.identity, flow_id=flow_id, version=version, **values)

    def refusals(self, reason: str) -> float:
        counter = self.flows.replicator.refused
        return float(counter.labels(reason)._value.get())

    def peer_client(self, sender: str) -> httpx.AsyncClient:
        app = Starlette(routes=build_peer_routes(self.flows), exception_handlers=EXCEPTION_HANDLERS)
        app.state.settings = self.ctx.settings
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_AsPeer(app, sender)), base_url="https://peer"
        )


class LinkedPeers:
    """Peer requests answered in-process by the linked members' peer routes."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.members: dict[str, Member] = {}
        self.down: set[str] = set()

    @asynccontextmanager
    async def stream(
        self, target: PeerTarget, method: str, path: str, *, json_body: Any = None, **_: Any
    ) -> AsyncIterator[httpx.Response]:
        member = self.members.get(target.node_id)
        if member is None or target.node_id in self.down:
            raise PeerUnreachable(target.node_id)
        async with (
            member.peer_client(self.sender) as client,
            client.stream(method, path, json=json_body) as response,
        ):
            yield response


def link(*members: Member) -> None:
    """Every member online for the others, reachable in-process."""
    for member in members:
        member.peers.members = {m.node_id: m for m in members if m is not member}
        member.cluster.others = [m.view() for m in members if m is not member]


class _AsPeer:
    def __init__(self, app: ASGIApp, sender: str) -> None:
        self.app = app
        self.sender = sender

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["peer_node"] = self.sender
        await self.app(scope, receive, send)


@asynccontextmanager
async def flows_member(home: Path, name: str = "self") -> AsyncIterator[Member]:
    identity = load_or_create_identity(home)
    db = Database(home / "fabric.db")
    await db.open()
    try:
        store = FlowStore(db)
        await store.migrate()
        settings = Settings(home=home, mdns=False)
        ctx = Context(settings, db, EventBus(ring_size=10_000), Metrics(), identity, "test")
        peers = LinkedPeers(identity.node_id)
        ctx.peers = peers  # type: ignore[assignment]
        cluster = StubCluster(identity.node_id, name)
        ctx.provide_cluster(cluster)
        service = Service(identity.node_id)
        flows = FlowsClusterImpl(
            ctx,
            store,
            on_merged=service.on_merged,
            run_here=service.run_here,
            rerun_here=service.rerun_here,
            run_of=service.run_of,
            runs_of=service.runs_of,
            delete_run=service.delete_run,
            cancel_run=service.cancel_run,
            take_fire=service.take_fire,
        )
        yield Member(identity, ctx, cluster, store, service, flows, peers)
    finally:
        await db.close()
