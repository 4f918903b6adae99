"""In-process memory nodes for tests: the real store, index, merger and routes on a real
SQLite database, with a fake clock and a cluster view that knows the nodes it is told of."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.core.bus import EventBus
from agent.core.capabilities import Capabilities
from agent.core.cluster import MemberView, OnClusterChange
from agent.core.db import Database
from agent.core.embedding import TextEncoder
from agent.core.errors import EXCEPTION_HANDLERS
from agent.core.metrics import Metrics
from agent.memory.book import FactBook
from agent.memory.index import FactIndex
from agent.memory.ledger import Ledger
from agent.memory.merge import Merger
from agent.memory.peer_routes import build_peer_routes
from agent.memory.record import FactRecord, Stamper
from agent.memory.replication import Replicator
from agent.memory.routes import build_routes
from agent.memory.service import MemoryService
from agent.memory.store import MemoryStore
from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable
from agent.peer.identity import load_or_create_identity
from agent.settings import Settings
from tests.wire_check import checked

NODE = "nodeself"
PEER = "nodepeer"
START = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def member_view(node_id: str, state: str = "online") -> MemberView:
    return MemberView(
        node_id=node_id,
        name=node_id,
        is_self=False,
        state=state,
        addresses=("127.0.0.1",),
        peer_port=0,
        fingerprint="",
        version="test",
        joined_at=START,
        last_seen=START,
        telemetry=None,
        capabilities=Capabilities(),
        target=PeerTarget(node_id, ("127.0.0.1",), 0, ""),
    )


@dataclass
class StubCluster:
    """This node and `others`, having known the nodes in `known`."""

    node_id: str = NODE
    known: set[str] = field(default_factory=lambda: {PEER})
    cluster_id: str | None = None
    others: list[MemberView] = field(default_factory=list)

    def members(self) -> list[MemberView]:
        return list(self.others)

    def member(self, node_id: str) -> MemberView | None:
        return next((m for m in self.others if m.node_id == node_id), None)

    def state_of(self, node_id: str) -> str:
        member = self.member(node_id)
        return "offline" if member is None else member.state

    def ever_known(self, node_id: str) -> bool:
        return node_id in self.known

    def status_of(self, node_id: str) -> str | None:
        return "member" if node_id in self.known else None

    def on_change(self, callback: OnClusterChange) -> None:
        return None

    def hint_addresses(self, node_id: str, addresses: tuple[str, ...]) -> None:
        return None


@dataclass
class Node:
    db: Database
    bus: EventBus
    clock: FakeClock
    book: FactBook
    service: MemoryService
    merger: Merger
    replicator: Replicator
    refused: Counter
    home: Path
    cluster: StubCluster

    async def all_versions(self) -> list[FactRecord]:
        found = await self.book.store.get_many(self.book.ledger.ids())
        return sorted(found.values(), key=lambda r: r.id)

    def events(self, prefix: str = "memory") -> list[tuple[str, dict[str, Any]]]:
        return [(e.topic, e.data) for e in self.bus.recent([prefix], limit=10_000)]

    def refusals(self, reason: str) -> float:
        return float(self.refused.labels(reason)._value.get())

    def client(self) -> httpx.AsyncClient:
        app = Starlette(routes=build_routes(self.service), exception_handlers=EXCEPTION_HANDLERS)
        app.state.settings = Settings(home=self.home)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=checked(app)), base_url="http://127.0.0.1:4892"
        )

    def peer_client(self, sender: str = PEER) -> httpx.AsyncClient:
        """The peer routes as `sender` would reach them (its signature taken as checked)."""
        app = Starlette(
            routes=build_peer_routes(self.replicator), exception_handlers=EXCEPTION_HANDLERS
        )
        app.state.settings = Settings(home=self.home)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_AsPeer(app, sender)), base_url="https://peer"
        )


class LinkedPeers:
    """Peer requests answered in-process by the peer routes of the nodes linked."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.nodes: dict[str, Node] = {}
        self.answer: Callable[[str, dict[str, Any]], dict[str, Any] | None] | None = None

    async def request(
        self,
        target: PeerTarget,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        if self.answer is not None:
            forged = self.answer(path, json_body)
            if forged is not None:
                return httpx.Response(200, json=forged)
        node = self.nodes.get(target.node_id)
        if node is None:
            raise PeerUnreachable(target.node_id)
        async with node.peer_client(self.sender) as client:
            return await client.request(method, path, json=json_body)


def link(*nodes: Node) -> None:
    """Make every node a member online for the others, reachable in-process."""
    for node in nodes:
        peers = LinkedPeers(node.cluster.node_id)
        peers.nodes = {n.cluster.node_id: n for n in nodes if n is not node}
        node.replicator.peers = peers  # type: ignore[assignment]
        node.cluster.others = [member_view(n) for n in peers.nodes]
        node.cluster.known |= set(peers.nodes)


class _AsPeer:
    def __init__(self, app: ASGIApp, sender: str) -> None:
        self.app = app
        self.sender = sender

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["peer_node"] = self.sender
        await self.app(scope, receive, send)


@asynccontextmanager
async def memory_node(
    home: Path,
    encoder: TextEncoder | None,
    *,
    node_id: str = NODE,
    known: set[str] | None = None,
    clock: FakeClock | None = None,
) -> AsyncIterator[Node]:
    clock = clock or FakeClock()
    db = Database(home / "fabric.db")
    await db.open()
    try:
        bus = EventBus(ring_size=10_000, queue_size=100)
        store = MemoryStore(db)
        await store.migrate()
        index = FactIndex(encoder, store, anyio.Lock())
        book = FactBook(store, Ledger(), index, bus, Stamper(node_id, clock))
        await book.load()
        refused = Metrics().counter("memory_versions_refused", "refused", ["reason"])
        cluster = StubCluster(node_id, {PEER} if known is None else known)
        merger = Merger(book, cluster, clock, refused)
        peers = PeerClient(load_or_create_identity(home))
        replicator = Replicator(book, merger, cluster, peers)
        service = MemoryService(book)
        yield Node(db, bus, clock, book, service, merger, replicator, refused, home, cluster)
        await peers.close()
    finally:
        await db.close()
