"""The store: records keep the newest version (tombstones too), cursors the latest time,
finished runs the newest `runs_kept` per flow; deleting a flow deletes its runs."""

from __future__ import annotations

from pathlib import Path

from agent.core.db import Database
from agent.flows.clock import FakeClock
from agent.flows.records import FlowRecord, sign_cursor, sign_record
from agent.flows.store import FlowStore
from agent.peer.identity import load_or_create_identity
from tests.flows.kit import FakeAction, engine, flow, step


async def test_records_keep_the_newest_version(tmp_path: Path) -> None:
    identity = load_or_create_identity(tmp_path)
    db = Database(tmp_path / "store.db")
    await db.open()
    try:
        store = FlowStore(db, definer=lambda record: ("Name", '{"name": "Name"}'))
        await store.migrate()

        def record(version: int, *, deleted: bool = False, at: float = 1000.0) -> FlowRecord:
            return sign_record(
                identity,
                flow_id="f",
                version=version,
                updated_at=at,
                deleted=deleted,
                enabled=True,
                format="yaml",
                source=f"v{version}",
            )

        assert await store.merge_record(record(2))
        assert not await store.merge_record(record(1))
        assert not await store.merge_record(record(2))
        assert await store.merge_record(record(2, at=1001.0))
        stored = await store.flow("f")
        assert stored is not None
        assert stored.definition == '{"name": "Name"}'
        assert await store.merge_record(record(3, deleted=True))
        assert not await store.merge_record(record(2, at=5000.0))
        held = await store.record("f")
        assert held is not None
        assert held.deleted
        assert held.version == 3
        assert await store.flows() == []
        assert [r.flow_id for r in await store.records()] == ["f"]

        late = sign_cursor(identity, flow_id="f", trigger_index=0, fired_at=200.0)
        early = sign_cursor(identity, flow_id="f", trigger_index=0, fired_at=100.0)
        assert await store.merge_cursor(late)
        assert not await store.merge_cursor(early)
        assert store.last_fired("f", 0) == 200.0
        assert [c.fired_at for c in await store.cursors()] == [200.0]
    finally:
        await db.close()


async def test_retention_keeps_the_newest_runs(tmp_path: Path) -> None:
    clock = FakeClock()
    async with engine(tmp_path, clock, {"task.run": FakeAction()}) as e:
        await e.save(flow("Kept", [step("a")], mode="parallel"))
        ids = []
        for _ in range(53):
            ids.append((await e.start("kept")).id)
            await e.ended(ids[-1])
            clock.advance(1)
        kept = await e.store.runs_of("kept", 50)
    assert [r.id for r in kept] == list(reversed(ids[-50:]))


async def test_deleting_a_flow_deletes_its_runs(tmp_path: Path) -> None:
    clock = FakeClock()
    async with engine(tmp_path, clock, {"task.run": FakeAction()}) as e:
        await e.save(flow("Gone", [step("a")]))
        run = await e.ended((await e.start("gone")).id)
        waiting = flow("Waits", [step("pause", "wait", with_={"duration": "1h"})])
        await e.save(waiting)
        pending = (await e.start("waits")).id
        await e.step_state(pending, "pause", "waiting")
        deleted = await e.flows.delete("gone")
        assert deleted.runs_deleted == 1
        assert await e.store.run(run.id) is None
        assert (await e.flows.delete("waits")).runs_deleted == 1
        assert await e.store.run(pending) is None
        tombstone = await e.store.record("gone")
        assert tombstone is not None
        assert tombstone.deleted
        assert tombstone.version == 2
        assert [r.deleted for r in e.cluster.records] == [False, False, True, True]
        again = await e.save(flow("Gone", [step("a")]))
    assert again.version == 3
