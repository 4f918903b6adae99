"""File triggers: shared-storage globs over a fake listing driven by real storage events,
and local globs over a real folder followed with watchfiles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agent.core.bus import EventBus
from agent.flows.clock import FakeClock
from agent.flows.triggers import Triggers
from agent.storage.events import (
    STORAGE_DELETED,
    STORAGE_SYNCED,
    STORAGE_UPLOADED,
    FileDeleted,
    FilesSynced,
    FileUploaded,
)
from tests.flows.test_triggers_kit import (
    START,
    Engine,
    armed,
    make_triggers,
    quiet,
    running,
    settle,
)
from tests.harness import async_wait_until

ALL = ["created", "modified", "deleted"]


def uploaded(path: str) -> FileUploaded:
    return FileUploaded(path=path, size=1, sha256="0" * 64)


def changes(engine: Engine, flow_id: str) -> list[tuple[str, str]]:
    return [(f.payload["path"], f.payload["change"]) for f in engine.of(flow_id)]


async def test_storage_changes_fire_per_matching_path_after_the_baseline() -> None:
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    engine.listing = {"docs/old.md": "v1", "docs/keep.md": "k1", "notes.txt": "n1"}
    triggers = make_triggers(engine, clock, bus)
    triggers.arm(
        [
            armed("md", {"file": {"storage": "docs/**/*.md"}}),
            armed("gone", {"file": {"storage": "/docs/**", "on": ["deleted"]}}),
            armed("every", {"file": {"storage": "**", "on": ALL}}),
        ]
    )
    async with running(triggers):
        await settle(lambda: triggers.shared_files.listings == 1)
        await quiet()
        assert engine.firings == []  # what existed when armed is the baseline
        engine.listing |= {"docs/old.md": "v2", "docs/new/a.md": "a1", "docs/new/a.txt": "t1"}
        bus.publish(STORAGE_UPLOADED, uploaded("docs/new/a.md"))
        await settle(lambda: len(engine.firings) == 5)
        assert changes(engine, "md") == [("docs/new/a.md", "created"), ("docs/old.md", "modified")]
        del engine.listing["docs/old.md"]
        bus.publish(STORAGE_DELETED, FileDeleted(path="docs/old.md"))
        await settle(lambda: len(engine.firings) == 7)
        engine.listing["docs/synced.md"] = "s1"  # written on another member
        bus.publish(STORAGE_SYNCED, FilesSynced(sender="n2", count=1, paths=["docs/synced.md"]))
        await settle(lambda: len(engine.firings) == 9)
        await quiet()
    assert changes(engine, "md") == [
        ("docs/new/a.md", "created"),
        ("docs/old.md", "modified"),
        ("docs/synced.md", "created"),
    ]
    assert changes(engine, "gone") == [("docs/old.md", "deleted")]
    assert changes(engine, "every") == [
        ("docs/new/a.md", "created"),
        ("docs/new/a.txt", "created"),
        ("docs/old.md", "modified"),
        ("docs/old.md", "deleted"),
        ("docs/synced.md", "created"),
    ]
    created = engine.of("md")[0]
    assert created.kind == "file"
    assert created.slot == "docs/new/a.md#created#a1"
    assert created.payload == {"path": "docs/new/a.md", "change": "created", "version": "a1"}
    assert engine.of("gone")[0].payload["version"] is None


async def test_a_burst_of_storage_events_makes_one_listing_and_rearming_keeps_the_baseline() -> (
    None
):
    bus, clock, engine = EventBus(), FakeClock(START), Engine()
    flows = [armed("md", {"file": {"storage": "*.md"}})]
    triggers = make_triggers(engine, clock, bus)
    triggers.arm(flows)
    async with running(triggers):
        await settle(lambda: triggers.shared_files.listings == 1)
        for n in range(50):
            engine.listing[f"{n}.md"] = "v"
            bus.publish(STORAGE_UPLOADED, uploaded(f"{n}.md"))
        await settle(lambda: len(engine.firings) == 50)
        await quiet()
        assert triggers.shared_files.listings <= 3
        triggers.arm(flows)
        await quiet()
        assert triggers.shared_files.listings <= 3  # unchanged: no new baseline taken
        engine.listing["late.md"] = "v"
        bus.publish(STORAGE_UPLOADED, uploaded("late.md"))
        await settle(lambda: len(engine.firings) == 51)
        await quiet()
    assert len(engine.firings) == 51


async def file_watch_live(triggers: Triggers, engine: Engine, folder: Path) -> None:
    """Write probe files until the `probe` flow sees one: the watch is then following."""
    attempt = 0

    async def seen() -> bool:
        nonlocal attempt
        attempt += 1
        (folder / f"probe-{attempt}.txt").write_text("x")
        try:
            await async_wait_until(lambda: engine.of("probe"), 1.0, "a probe file")
        except TimeoutError:
            return False
        return True

    await async_wait_until(seen, 20.0, "the folder watch to start")


async def test_local_files_fire_per_path_and_change_once_per_burst(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "before.pdf").write_text("old")
    clock, engine = FakeClock(START), Engine()
    triggers = make_triggers(engine, clock)
    triggers.arm(
        [
            armed("pdf", {"file": {"path": f"{inbox}/**/*.pdf", "on": ALL}}),
            armed("probe", {"file": {"path": f"{inbox}/*.txt"}}),
        ]
    )
    async with running(triggers):
        await file_watch_live(triggers, engine, inbox)
        report = inbox / "sub" / "report.pdf"
        for n in range(20):
            report.write_text(f"draft {n}")
        (inbox / "sub" / "report.pdf.part").write_text("not a pdf")
        await async_wait_until(lambda: engine.of("pdf"), 10.0, "the new pdf")
        report.write_text("final")
        await async_wait_until(
            lambda: "modified" in {c for _, c in changes(engine, "pdf")}, 10.0, "the changed pdf"
        )
        (inbox / "probe-1.txt").unlink()
        report.unlink()
        await async_wait_until(
            lambda: changes(engine, "pdf")[-1][1] == "deleted", 10.0, "the deleted pdf"
        )
        await quiet()
    seen = changes(engine, "pdf")
    # A burst coalesces within one debounce window; a stalled machine may split it, which
    # adds "modified" firings but never a second "created" or a firing for the .part file.
    assert seen[0] == (str(report), "created")
    assert seen[-1] == (str(report), "deleted")
    assert set(seen[1:-1]) == {(str(report), "modified")}
    assert len(seen) < 20
    assert all(p.endswith(".txt") and c != "deleted" for p, c in changes(engine, "probe"))
    assert engine.of("pdf")[0].slot.startswith(f"{report}#created#")


async def test_a_local_folder_that_appears_later_is_watched_then(tmp_path: Path) -> None:
    later = tmp_path / "later"
    clock, engine = FakeClock(START), Engine()
    triggers = make_triggers(engine, clock)
    triggers.arm([armed("probe", {"file": {"path": f"{later}/*.txt"}})])
    async with running(triggers):
        await async_wait_until(lambda: triggers.local_files.missing, 10.0, "the first look")
        assert triggers.local_files.missing == [str(later)]
        assert triggers.local_files.watching == []
        later.mkdir()
        await async_wait_until(lambda: triggers.local_files.watching, 10.0, "the new folder")
        await file_watch_live(triggers, engine, later)


async def test_a_foreign_flow_watches_no_local_folder_but_shared_storage(tmp_path: Path) -> None:
    clock, engine = FakeClock(START), Engine()
    triggers = make_triggers(engine, clock)
    flow = armed("foreign", {"file": {"path": f"{tmp_path}/*.txt"}}, {"file": {"storage": "*.txt"}})
    triggers.arm([replace(flow, foreign=True)])
    assert triggers.local_files.watches == {}
    assert list(triggers.shared_files.watches) == [("foreign", 1)]
    triggers.arm([flow])
    assert list(triggers.local_files.watches) == [("foreign", 0)]
