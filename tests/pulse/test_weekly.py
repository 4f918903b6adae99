"""The weekly digest against a known history (fixed times, known events and observations):
exact figures; the ledger counts each task and generation once, survives a restart, and is
fed by the bus topics the subsystem subscribes to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from agent.pulse.ledger import HOUR, Ledger
from agent.pulse.models import (
    InsightTally,
    LedgerTasks,
    LedgerTokens,
    NodeUptime,
    PeerLedger,
    StateChange,
    StorageGrowth,
    TaskCounts,
    TokenCount,
)
from agent.pulse.observe import Observation
from agent.pulse.service import PulseService
from agent.pulse.store import KEPT_CHANGES, PulseStore
from agent.pulse.subsystem import create
from agent.pulse.weekly import WEEK_S, digest
from tests.harness import async_wait_until
from tests.pulse.fakes import FakeClock, FakeCluster, member, pulse_context
from tests.topics import publish

T0 = 1_700_000_000 - 1_700_000_000 % 3600  # an hour boundary
NOW = T0 + 6 * 86400 + 1800
SINCE = NOW - WEEK_S
TITLES = {"memory_pressure": "Memory pressure", "node_offline": "Node offline"}


def task(
    task_id: str, state: str, node: str | None, started: bool = True, ended: bool = True
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "state": state,
        "node_id": node,
        "started_at": T0 if started else None,
        "ended_at": T0 + 1 if ended else None,
    }


def known_ledger() -> Ledger:
    ledger = Ledger()
    tasks = [
        (T0 + 100, task("t1", "succeeded", "n1")),
        (T0 + 110, task("t1", "succeeded", "n1")),  # the same task again: counted once
        (T0 + 200, task("t2", "failed", "n2")),
        (T0 + 300, task("t3", "lost", "n2", ended=False)),  # lost, queued again: not an end
        (T0 + 400, task("t3", "succeeded", "n1")),
        (T0 + 500, task("t4", "cancelled", None, started=False)),  # never ran
        (T0 + 600, task("t5", "timed_out", "n2")),
        (T0 + 700, task("t6", "failed", None, started=False)),  # could not be run anywhere
        (T0 + 800, task("t8", "queued", None, ended=False)),
        (T0 + 900, {"task_id": 5, "state": "failed", "ended_at": 1.0}),
        (T0 + 901, {"task_id": "t9", "state": "failed", "ended_at": "now"}),
        (SINCE - 2 * HOUR, task("t7", "succeeded", "n1")),  # before the week
    ]
    for at, data in tasks:
        ledger.record_task(data, at)
    generations: list[dict[str, Any]] = [
        {"model": "llama", "node_id": "n1", "completion_tokens": 50},
        {"model": "llama", "node_id": "n1", "completion_tokens": 70},
        {"model": "qwen", "node_id": "n1", "completion_tokens": 10},
        {"model": "qwen", "node_id": "n1", "completion_tokens": "5"},
        {"model": "qwen", "node_id": "n1", "completion_tokens": -1},
        {"model": "qwen", "node_id": "n1", "completion_tokens": True},
        {"model": "qwen", "node_id": "n1", "completion_tokens": 1.5},
        {"node_id": "n1", "completion_tokens": 9},
        {"model": "x" * 300, "node_id": "n1", "completion_tokens": 9},
    ]
    for generation in generations:
        ledger.record_generation(generation, T0 + 10)
    for step in range(10):
        seen = [
            Observation("n1", "alpha", online=True, offline=False),
            Observation("n2", "bravo", online=step < 5, offline=step >= 5),
        ]
        ledger.observe(seen, T0 + 60 * step, 0 if step == 0 else 60)
    for hour, used in ((SINCE - 2 * HOUR, (1, 1)), (T0, (1000, 500)), (T0 + 5 * HOUR, (1800, 700))):
        seen = [
            Observation("n1", "alpha", True, False, storage_used=used[0]),
            Observation("n2", "bravo", True, False, storage_used=used[1]),
        ]
        ledger.observe(seen, hour, 0)
    return ledger


def change(at: float, key: str, before: str, after: str, dismissed: bool = False) -> StateChange:
    return StateChange(
        at=at,
        insight_id=key,
        rule=key.split(":")[0],
        node_id=key.split(":")[1],
        from_status=before,
        to_status=after,
        dismissed=dismissed,
    )


CHANGES = [
    change(SINCE - 1000, "memory_pressure:n1", "ok", "warning"),  # raised before the week
    change(SINCE + 500, "memory_pressure:n1", "warning", "ok"),
    change(T0, "memory_pressure:n2", "ok", "warning"),
    change(T0 + 100, "memory_pressure:n2", "warning", "critical"),
    change(T0 + 1000, "memory_pressure:n2", "critical", "ok"),
    change(T0 + 2000, "node_offline:n2", "ok", "warning"),  # still active at the end
    change(T0 + 2100, "node_offline:n2", "warning", "warning", dismissed=True),
    change(T0 + 3000, "disk_full:n1:/", "ok", "critical"),
    change(T0 + 3100, "disk_full:n1:/", "critical", "ok"),
    change(T0 + 4000, "disk_full:n1:/", "ok", "warning"),
    change(T0 + 4060, "disk_full:n1:/", "warning", "ok"),
]
PEER = PeerLedger(
    tasks=[LedgerTasks(node_id="n1", run=3, failed=1)],
    tokens=[LedgerTokens(model="llama", node_id="n2", tokens=100)],
)


def test_the_digest_of_a_known_week() -> None:
    week = digest(NOW, known_ledger(), [PEER], CHANGES, TITLES, ["n3"])
    assert (week.since, week.until) == (SINCE, NOW)
    assert week.tasks == [
        TaskCounts(node_id=None, run=8, failed=4),
        TaskCounts(node_id="n1", run=5, failed=1),
        TaskCounts(node_id="n2", run=2, failed=2),
    ]
    assert week.tokens == [
        TokenCount(model="llama", node_id="n1", tokens=120),
        TokenCount(model="llama", node_id="n2", tokens=100),
        TokenCount(model="qwen", node_id="n1", tokens=10),
    ]
    assert week.uptime == [
        NodeUptime(node_id="n1", node_name="alpha", online_s=540.0, uptime_percent=100.0),
        NodeUptime(node_id="n2", node_name="bravo", online_s=240.0, uptime_percent=44.44),
    ]
    assert week.storage == StorageGrowth(start_bytes=1500, end_bytes=2500, growth_bytes=1000)
    assert week.top_insights == [
        InsightTally(rule="disk_full", title="disk_full", raised=2, active_s=160.0),
        InsightTally(rule="node_offline", title="Node offline", raised=1, active_s=NOW - T0 - 2000),
        InsightTally(rule="memory_pressure", title="Memory pressure", raised=1, active_s=1500.0),
    ]
    assert week.missing == ["n3"]


async def test_the_ledger_and_changes_survive_a_restart(tmp_path: Path) -> None:
    ledger = known_ledger()
    async with pulse_context(tmp_path / "home", FakeClock(NOW)) as ctx:
        store = PulseStore(ctx.db)
        await store.migrate()
        await store.save_ledger(ledger, ledger.prune(NOW))
        assert ledger.dirty == set()
        again = Ledger()
        await store.load_ledger(again, again.prune(NOW))
        assert again.summary(SINCE, NOW) == ledger.summary(SINCE, NOW)
        assert again.uptime_in(SINCE, NOW) == ledger.uptime_in(SINCE, NOW)
        assert again.storage_in(SINCE, NOW) == ledger.storage_in(SINCE, NOW)
        await store.add_changes(
            [change(i, "gpu_hot:n1", "ok", "warning") for i in range(KEPT_CHANGES + 10)]
        )
        kept = await store.changes()
        assert len(kept) == KEPT_CHANGES
        assert kept[0].at == KEPT_CHANGES + 9
        assert kept[-1].at == 10


def test_old_buckets_are_forgotten() -> None:
    ledger = known_ledger()
    assert ledger.prune(NOW + 2 * 86400) == T0 + HOUR  # eight days of hours, this one included
    assert ledger.summary(0, NOW).tasks == []
    assert {hour for hour, _ in ledger.storage} == {T0 + 5 * HOUR}


async def test_the_subsystem_counts_what_its_bus_carries(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    async with pulse_context(tmp_path / "home", clock) as ctx:
        assert isinstance(ctx.cluster, FakeCluster)
        ctx.cluster.members_now = [member(ctx.identity.node_id, is_self=True), member("n3")]
        pulse = create(ctx)
        async with anyio.create_task_group() as tg:
            ctx.task_group = tg
            await pulse.start()
            publish(ctx.bus, "task.succeeded", task("a", "succeeded", "n1"))
            publish(ctx.bus, "task.failed", task("b", "failed", "n2"))
            publish(
                ctx.bus, "llm.generated", {"model": "m", "node_id": "n1", "completion_tokens": 7}
            )
            publish(ctx.bus, "llm.backend", {"model": "m", "node_id": "n1", "completion_tokens": 7})
            service: PulseService = pulse.service
            await async_wait_until(
                lambda: service.ledger.tokens and len(service.ledger.tasks) == 2, 10, "the ledger"
            )
            week = await service.weekly()
            assert week.tasks[0] == TaskCounts(node_id=None, run=2, failed=1)
            assert week.tokens == [TokenCount(model="m", node_id="n1", tokens=7)]
            assert week.missing == ["n3"]  # it has no address: not asked
            tg.cancel_scope.cancel()


@pytest.mark.parametrize("elapsed", [0.0, -5.0])
def test_no_time_is_counted_without_an_interval(elapsed: float) -> None:
    ledger = Ledger()
    ledger.observe([Observation("n1", "alpha", True, False)], T0, elapsed)
    assert ledger.uptime_in(0, NOW) == []
