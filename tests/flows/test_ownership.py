"""Trigger ownership: rendezvous hashing over the members not offline, deterministic,
balanced and stable; `runs_on`; owning nothing before settling; telling listeners and the
cluster when owners change."""

from __future__ import annotations

from collections import Counter

from agent.core.bus import EventBus
from agent.flows.ownership import Ownership, rendezvous
from tests.flows.cluster_kit import StubCluster, member_view

NODES = ["kq3v7zpxa4", "m2tq6rbyc5", "z7wd2hnef6"]
FLOWS = [f"flow-{i}" for i in range(300)]


def settled(cluster: StubCluster) -> tuple[Ownership, EventBus]:
    bus = EventBus()
    ownership = Ownership(cluster, bus)
    ownership.settle()
    return ownership, bus


def trio(state: str = "online") -> StubCluster:
    cluster = StubCluster(NODES[0], "alpha")
    cluster.others = [member_view(NODES[1], name="beta"), member_view(NODES[2], state, "gamma")]
    return cluster


def test_owners_are_deterministic_whatever_the_order() -> None:
    for flow_id in FLOWS[:50]:
        owner = rendezvous(flow_id, NODES)
        assert owner == rendezvous(flow_id, list(reversed(NODES)))
        assert owner in NODES
    # Every member computes the same owner from its own view.
    views = []
    for me in NODES:
        cluster = StubCluster(me)
        cluster.others = [member_view(n) for n in NODES if n != me]
        views.append(settled(cluster)[0])
    for flow_id in FLOWS:
        assert len({v.owner_of(flow_id, None) for v in views}) == 1


def test_owners_are_balanced() -> None:
    counts = Counter(rendezvous(flow_id, NODES) for flow_id in FLOWS)
    assert set(counts) == set(NODES)
    assert all(60 <= n <= 140 for n in counts.values()), counts


def test_a_node_joining_moves_only_the_flows_it_wins() -> None:
    before = {f: rendezvous(f, NODES) for f in FLOWS}
    newcomer = "p5sx3jgdh7"
    after = {f: rendezvous(f, [*NODES, newcomer]) for f in FLOWS}
    moved = [f for f in FLOWS if before[f] != after[f]]
    assert moved
    assert all(after[f] == newcomer for f in moved)
    # And leaving moves only the flows it held.
    gone = {f: rendezvous(f, NODES[:2]) for f in FLOWS}
    assert all(gone[f] == before[f] for f in FLOWS if before[f] != NODES[2])


def test_offline_members_own_nothing_suspect_ones_keep_theirs() -> None:
    cluster = trio()
    ownership, _ = settled(cluster)
    held = {f: ownership.owner_of(f, None) for f in FLOWS}
    cluster.set_state(NODES[2], "suspect")
    assert {f: ownership.owner_of(f, None) for f in FLOWS} == held
    cluster.set_state(NODES[2], "offline")
    now = {f: ownership.owner_of(f, None) for f in FLOWS}
    assert NODES[2] not in now.values()
    assert all(now[f] == held[f] for f in FLOWS if held[f] != NODES[2])


def test_runs_on_names_one_member_by_id_or_name() -> None:
    cluster = trio()
    ownership, _ = settled(cluster)
    assert ownership.owner_of("nightly", NODES[1]) == NODES[1]
    assert ownership.owner_of("nightly", "gamma") == NODES[2]
    assert ownership.owner_of("nightly", "alpha") == NODES[0]
    assert ownership.owner_of("nightly", "nobody") is None
    cluster.set_state(NODES[2], "offline")
    assert ownership.owner_of("nightly", "gamma") is None


def test_nothing_is_owned_here_before_settling() -> None:
    cluster = trio()
    ownership = Ownership(cluster, EventBus())
    owners = {f: ownership.owner_of(f, None) for f in FLOWS}
    assert NODES[0] not in owners.values()
    assert set(owners.values()) == set(NODES[1:])
    assert ownership.owner_of("nightly", "alpha") is None
    cluster.others = []
    assert ownership.owner_of("nightly", None) is None
    ownership.settle()
    assert ownership.owner_of("nightly", None) == NODES[0]


def test_listeners_hear_of_changes_that_can_move_owners() -> None:
    cluster = trio()
    ownership = Ownership(cluster, EventBus())
    heard: list[int] = []
    ownership.on_owners_changed(lambda: heard.append(1))
    ownership.settle()
    assert len(heard) == 1
    ownership.settle()
    assert len(heard) == 1
    cluster.set_state(NODES[2], "suspect")
    assert not ownership.recheck()
    cluster.set_state(NODES[2], "offline")
    assert ownership.recheck()
    assert not ownership.recheck()
    cluster.set_state(NODES[2], "online")
    assert ownership.recheck()
    assert len(heard) == 3


def test_the_new_owner_tells_the_cluster() -> None:
    cluster = trio()
    ownership, bus = settled(cluster)
    theirs = next(f for f in FLOWS if ownership.owner_of(f, None) == NODES[2])
    mine_before = [f for f in FLOWS if ownership.owner_of(f, None) == NODES[0]]
    assert bus.recent(["flow.owner"]) == []
    cluster.set_state(NODES[2], "offline")
    taken = [f for f in FLOWS if ownership.owner_of(f, None) == NODES[0]]
    told = [e.data for e in bus.recent(["flow.owner"], limit=1000)]
    assert told == [{"flow_id": f, "owner": NODES[0]} for f in taken if f not in mine_before]
    assert theirs in taken or ownership.owner_of(theirs, None) == NODES[1]
