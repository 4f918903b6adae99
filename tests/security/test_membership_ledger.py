"""Self-certifying membership, in process: real Membership objects over real SQLite, passing
tables to each other the way `/peer/membership` does, with one of them hostile."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import ValidationError

from agent.cluster import records
from agent.cluster.heartbeat import Heartbeats
from agent.cluster.join import JoinService
from agent.cluster.ledger import derive
from agent.cluster.membership import Membership
from agent.cluster.models import NodeBody, Table
from agent.cluster.records import Record, sign_node
from agent.cluster.store import EVICTED, LEFT, MEMBER, ClusterStore
from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.metrics import Metrics
from agent.core.subsystem import Context
from agent.peer.client import PeerClient
from agent.peer.identity import Identity, load_or_create_identity
from agent.settings import Settings


@dataclass
class Node:
    identity: Identity
    membership: Membership
    db: Database

    @property
    def id(self) -> str:
        return self.identity.node_id

    def table(self) -> Table:
        return Table.model_validate(self.membership.wire())

    def status_of(self, node_id: str) -> str | None:
        member = self.membership.members.get(node_id)
        return member.status if member else None


class _QuietHeartbeats:
    """Eviction pushes the table to everyone; in process there is no one to push to."""

    async def broadcast(self, extra: Any = ()) -> None:
        return None

    def spawn(self, job: Any) -> None:
        job.close()


def joins_of(node: Node) -> JoinService:
    ctx = node.membership.ctx
    return JoinService(
        ctx, node.membership, PeerClient(node.identity), cast(Heartbeats, _QuietHeartbeats())
    )


MakeNode = Callable[[str], Awaitable[Node]]


@asynccontextmanager
async def node_factory(root: Path) -> AsyncIterator[MakeNode]:
    """Makes in-process nodes under `root`, each with its own identity and database."""
    opened: list[Database] = []

    async def make(name: str) -> Node:
        home = root / name
        identity = load_or_create_identity(home)
        db = Database(home / "fabric.db")
        await db.open()
        opened.append(db)
        settings = Settings(home=home, mdns=False, advertise_address="127.0.0.1")
        ctx = Context(settings, db, EventBus(), Metrics(), identity, version="test")
        store = ClusterStore(db)
        await store.migrate()
        membership = Membership(ctx, store)
        await membership.load()
        return Node(identity, membership, db)

    try:
        yield make
    finally:
        for db in opened:
            await db.close()


@pytest.fixture
async def make_node(tmp_path: Path) -> AsyncIterator[MakeNode]:
    async with node_factory(tmp_path) as make:
        yield make


def now_ms() -> int:
    return int(time.time() * 1000)


async def admit(issuer: Node, joiner: Node) -> Record:
    """What the join handshake does, minus the network: the issuer signs an admission."""
    cluster_id = await issuer.membership.ensure_cluster_id()
    admission = records.admit(
        issuer.identity,
        cluster_id,
        joiner.id,
        joiner.identity.public_key_b64,
        secrets.token_hex(8),
        now_ms(),
    )
    await issuer.membership.add([admission], [joiner.membership.nodes[joiner.id]])
    await joiner.membership.enter(issuer.table(), issuer.id, issuer.identity.fingerprint)
    return admission


async def sync(*nodes: Node) -> None:
    """Every pair exchanges tables, twice round, as heartbeats would."""
    for _ in range(2):
        for a in nodes:
            for b in nodes:
                if a is not b and a.membership.cluster_id and b.membership.cluster_id:
                    await b.membership.merge(a.table())


def push(cluster_id: str, recs: Sequence[Record] = (), nodes: Sequence[Any] = ()) -> Table:
    """What a member pushes to `/peer/membership`, validated as the receiver validates it."""
    return Table.model_validate(
        {
            "cluster_id": cluster_id,
            "records": [r.wire() for r in recs],
            "nodes": [n.wire() for n in nodes],
        }
    )


def entry(identity: Identity, like: Node, **changes: Any) -> Any:
    """A node entry signed by `identity`, copied from `like`'s own with `changes`."""
    body = like.membership.nodes[like.id].body.model_dump()
    body.update(changes)
    return sign_node(identity, NodeBody.model_validate(body))


@pytest.fixture
async def trio(make_node: MakeNode) -> list[Node]:
    a, b, c = [await make_node(n) for n in ("a", "b", "c")]
    await admit(a, b)
    await admit(a, c)
    await sync(a, b, c)
    return [a, b, c]


async def test_a_founded_cluster_id_is_bound_to_the_founder(trio: list[Node]) -> None:
    a, b, c = trio
    cluster_id = a.membership.cluster_id
    assert cluster_id is not None
    assert b.membership.cluster_id == cluster_id
    for node in trio:
        assert {m.node_id for m in node.membership.active()} == {a.id, b.id, c.id}
    # A founding record by anyone else cannot name this cluster.
    forged = records.found(b.identity, now_ms())
    assert forged.body.cluster_id != cluster_id


async def test_hostile_member_cannot_un_evict(tmp_path: Path, trio: list[Node]) -> None:
    a, b, c = trio
    await joins_of(a).evict(c.id)
    await sync(a, b)
    assert a.status_of(c.id) == EVICTED
    # b, hostile, re-admits the evicted key and c (colluding) signs a much newer entry.
    cluster_id = a.membership.cluster_id
    assert cluster_id is not None
    readmit = records.admit(
        b.identity, cluster_id, c.id, c.identity.public_key_b64, "00" * 8, now_ms() + 60_000
    )
    fresher = entry(c.identity, c, seq=10_000, at=now_ms() + 60_000)
    await a.membership.merge(push(cluster_id, [readmit], [fresher]))
    assert a.status_of(c.id) == EVICTED
    assert a.membership.key_of(c.id) == (c.identity.public_key_b64, EVICTED)
    # Even the evictor itself cannot undo it.
    again = records.admit(
        a.identity, cluster_id, c.id, c.identity.public_key_b64, "11" * 8, now_ms()
    )
    await a.membership.add([again])
    assert a.status_of(c.id) == EVICTED


async def test_new_key_without_admission_is_refused(make_node: MakeNode, trio: list[Node]) -> None:
    a, b, _ = trio
    stranger = await make_node("stranger")
    cluster_id = a.membership.cluster_id
    assert cluster_id is not None
    own_entry = stranger.membership.nodes[stranger.id]
    # No admission at all; then one the stranger signs itself; then one claiming to be a's
    # but signed by b.
    await a.membership.merge(push(cluster_id, [], [own_entry]))
    self_admit = records.admit(
        stranger.identity,
        cluster_id,
        stranger.id,
        stranger.identity.public_key_b64,
        "22" * 8,
        now_ms(),
    )
    await a.membership.merge(push(cluster_id, [self_admit], [own_entry]))
    claimed = records.admit(
        b.identity, cluster_id, stranger.id, stranger.identity.public_key_b64, "33" * 8, now_ms()
    )
    body = claimed.body.model_copy(update={"by": a.id, "by_key": a.identity.public_key_b64})
    forged = Record(claimed.id, body, claimed.signature)
    await a.membership.merge(push(cluster_id, [forged], [own_entry]))
    assert a.membership.key_of(stranger.id) is None
    assert stranger.id not in {n["body"]["node_id"] for n in a.membership.wire()["nodes"]}


async def test_member_cannot_replace_another_members_key(
    make_node: MakeNode, trio: list[Node]
) -> None:
    a, b, c = trio
    cluster_id = a.membership.cluster_id
    assert cluster_id is not None
    attacker = load_or_create_identity(a.membership.ctx.settings.home.parent / "attacker")
    # c's id with the attacker's key, signed by the attacker, newer than c's real entry.
    swapped = entry(attacker, c, public_key=attacker.public_key_b64, seq=999)
    await a.membership.merge(push(cluster_id, [], [swapped]))
    assert a.membership.key_of(c.id) == (c.identity.public_key_b64, MEMBER)
    # b re-signs c's entry with its own key: the signature does not verify.
    resigned = entry(b.identity, c, seq=999, name="pwned")
    await a.membership.merge(push(cluster_id, [], [resigned]))
    assert a.membership.members[c.id].name == c.membership.me().name


async def test_a_leave_must_be_signed_by_the_leaver(trio: list[Node]) -> None:
    a, b, c = trio
    cluster_id = a.membership.cluster_id
    assert cluster_id is not None
    real = records.leave(c.identity, cluster_id, list(a.membership.standings[c.id].open), now_ms())
    # b signs "c left" with its own key.
    forged = Record(
        real.id, real.body, records.leave(b.identity, cluster_id, ["0" * 64], now_ms()).signature
    )
    await a.membership.merge(push(cluster_id, [forged]))
    assert a.status_of(c.id) == MEMBER
    await a.membership.merge(push(cluster_id, [real]))
    assert a.status_of(c.id) == LEFT


async def test_an_evicted_issuer_cannot_admit_later(make_node: MakeNode, trio: list[Node]) -> None:
    a, b, _c = trio
    await joins_of(a).evict(b.id)
    cluster_id = a.membership.cluster_id
    assert cluster_id is not None
    late = await make_node("late")
    admission = records.admit(
        b.identity, cluster_id, late.id, late.identity.public_key_b64, "44" * 8, now_ms() - 600_000
    )
    # Pushed by c, who is still a member, with a timestamp from before the eviction.
    await a.membership.merge(push(cluster_id, [admission], [late.membership.nodes[late.id]]))
    assert a.membership.key_of(late.id) is None


async def test_evict_lists_and_can_evict_whom_it_admitted(
    make_node: MakeNode, trio: list[Node]
) -> None:
    a, b, c = trio
    d, e = await make_node("d"), await make_node("e")
    await admit(b, d)
    await admit(b, e)
    await sync(a, b, c, d, e)
    answer = await joins_of(a).evict(b.id)
    assert answer.evicted is True
    assert {n.node_id for n in answer.admitted} == {d.id, e.id}
    assert answer.also_evicted == []
    # Kept by the evictor's review: still members, everywhere.
    await sync(a, c, d, e)
    for node in (a, c, d, e):
        assert node.status_of(d.id) == node.status_of(e.id) == MEMBER
        assert node.status_of(b.id) == EVICTED
    # The other way: evict a node and everyone it admitted in one step.
    f = await make_node("f")
    await admit(d, f)
    await sync(a, c, d, e, f)
    answer = await joins_of(a).evict(d.id, evict_admitted=True)
    assert answer.also_evicted == [f.id]
    assert a.status_of(d.id) == a.status_of(f.id) == EVICTED


async def test_admissions_of_an_evicted_issuer_not_reviewed_are_dropped(
    make_node: MakeNode, trio: list[Node]
) -> None:
    a, b, c = trio
    d = await make_node("d")
    await admit(b, d)
    # a evicts b before hearing of d: d was not reviewed, so d goes too once the records meet.
    await joins_of(a).evict(b.id)
    await sync(a, b, c, d)
    assert a.status_of(d.id) is None
    assert d.membership.cluster_id is None  # d found itself outside and became lone


async def test_outcome_does_not_depend_on_arrival_order(
    make_node: MakeNode, trio: list[Node]
) -> None:
    a, b, c = trio
    await joins_of(a).evict(c.id)
    await joins_of(b).evict(a.id)  # a mutual fight: both evictions stand
    cluster_id = a.membership.cluster_id
    assert cluster_id is not None
    every = {**a.membership.records, **b.membership.records}
    forward = derive(cluster_id, list(every.values()))
    backward = derive(cluster_id, list(reversed(every.values())))
    assert forward == backward
    assert forward[a.id].status == forward[c.id].status == EVICTED


async def test_bounds_refuse_what_would_break_eviction(trio: list[Node]) -> None:
    a, b, _ = trio
    cluster_id = a.membership.cluster_id
    base = b.membership.nodes[b.id].wire()
    for field, value in [
        ("seq", 2**63 - 1),
        ("peer_port", 99999),
        ("at", float("nan")),
        ("at", 10**30),
        ("addresses", ["127.0.0.1"] * 17),
        ("cert_pem", "x" * 9000),
        ("name", "n" * 300),
    ]:
        bad = {**base, "body": {**base["body"], field: value}}
        with pytest.raises(ValidationError):
            Table.model_validate({"cluster_id": cluster_id, "records": [], "nodes": [bad]})
    with pytest.raises(ValidationError):
        Table.model_validate({"cluster_id": cluster_id, "records": [], "nodes": [base] * 257})
    # Eviction depends on nothing the evicted node chose.
    assert (await joins_of(a).evict(b.id)).evicted is True


async def test_an_own_entry_seen_newer_elsewhere_is_re_signed(
    make_node: MakeNode, trio: list[Node]
) -> None:
    _a, b, _ = trio
    cluster_id = b.membership.cluster_id
    assert cluster_id is not None
    newer = entry(b.identity, b, seq=500)
    await b.membership.merge(push(cluster_id, [], [newer]))
    assert b.membership.nodes[b.id].body.seq == 501
    assert b.membership.me().status == MEMBER
