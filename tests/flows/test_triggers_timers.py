"""The one timer loop with a fake clock: exact cron and interval times over hours, DST in
Paris, catch-up, re-arming, a slow engine, and 1,000 armed flows on one sleeper."""

from __future__ import annotations

from functools import partial

import anyio

from agent.flows.clock import FakeClock
from agent.flows.triggers import Firing, Triggers
from agent.flows.triggers.cron import iso_utc
from agent.flows.triggers.dispatch import QUEUE_SIZE, Dispatcher
from tests.flows.test_triggers_kit import (
    START,
    Engine,
    armed,
    make_triggers,
    quiet,
    running,
    settle,
    settled,
)


async def step_through(triggers: Triggers, clock: FakeClock, seconds: float, steps: int) -> None:
    """Advance the clock `steps` times by `seconds`, letting the loop fire after each."""
    for _ in range(steps):
        clock.advance(seconds)
        await settled(triggers)


async def test_every_minute_and_quarter_hour_fire_exactly_their_times_over_three_hours() -> None:
    clock, engine = FakeClock(START), Engine()
    triggers = make_triggers(engine, clock)
    triggers.arm(
        [armed("minute", {"cron": "* * * * *"}), armed("quarter", {"cron": "*/15 * * * *"})]
    )
    async with running(triggers):
        await step_through(triggers, clock, 20.0, 3 * 180)
    minutes = [f.slot for f in engine.of("minute")]
    assert minutes == [iso_utc(START + 60 * n) for n in range(1, 181)]
    assert [f.at for f in engine.of("quarter")] == [START + 900 * n for n in range(1, 13)]
    first = engine.of("minute")[0]
    assert (first.kind, first.trigger_index) == ("cron", 0)
    assert first.payload == {"scheduled_at": iso_utc(START + 60), "catch_up": False}


async def test_a_paris_schedule_fires_across_both_dst_changes() -> None:
    spring = 1_774_652_400.0  # 2026-03-27T23:00:00Z
    clock, engine = FakeClock(spring), Engine()
    triggers = make_triggers(engine, clock)
    triggers.arm([armed("night", {"cron": "30 2 * * *", "timezone": "Europe/Paris"})])
    async with running(triggers):
        await step_through(triggers, clock, 1800.0, 2 * 48)
        assert [f.slot for f in engine.of("night")] == [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
        ]
        autumn = 1_792_882_800.0  # 2026-10-24T23:00:00Z
        clock.set(autumn)
        await step_through(triggers, clock, 1800.0, 48)
    assert [f.slot for f in engine.of("night")][-2:] == [
        "2026-10-24T00:30:00Z",  # the jump to October fired only the latest due time, once
        "2026-10-25T00:30:00Z",  # 02:30 CEST, not again at 02:30 CET
    ]
    assert len(engine.of("night")) == 4


async def test_interval_triggers_fire_each_epoch_slot_with_its_number() -> None:
    clock, engine = FakeClock(START + 5), Engine()
    triggers = make_triggers(engine, clock)
    triggers.arm([armed("tick", {"interval": "30s"})])
    assert triggers.next_at("tick", 0) == START + 30
    async with running(triggers):
        await step_through(triggers, clock, 10.0, 30)
    fired = engine.of("tick")
    assert [f.payload["slot"] for f in fired] == [int(START / 30) + n for n in range(1, 11)]
    assert [f.slot for f in fired] == [str(f.payload["slot"]) for f in fired]
    assert all(f.kind == "interval" and f.at == f.payload["slot"] * 30 for f in fired)


async def test_catch_up_fires_once_for_the_latest_missed_time_only() -> None:
    clock, engine = FakeClock(START + 5 * 60 + 10), Engine()
    engine.cursors[("late", 0)] = START  # fired at START, then the cluster was down 5 min
    engine.cursors[("slots", 0)] = START
    engine.cursors[("plain", 0)] = START
    triggers = make_triggers(engine, clock)
    flows = [
        armed("late", {"cron": "* * * * *"}, catch_up=True),
        armed("slots", {"interval": 60}, catch_up=True),
        armed("plain", {"cron": "* * * * *"}),
        armed("new", {"cron": "* * * * *"}, catch_up=True),
    ]
    triggers.arm(flows)
    async with running(triggers):
        await settled(triggers)
        assert len(engine.firings) == 2
        triggers.arm(flows)  # unchanged: no second catch-up
        await quiet()
        await settled(triggers)
        assert len(engine.firings) == 2
        late, slots = engine.of("late")[0], engine.of("slots")[0]
        assert late.payload == {"scheduled_at": iso_utc(START + 300), "catch_up": True}
        assert late.at == START + 300
        assert late.slot == iso_utc(START + 300)
        assert slots.payload["catch_up"] is True
        assert slots.at == START + 300
        assert engine.of("plain") == []
        assert engine.of("new") == []
        await step_through(triggers, clock, 50.0, 1)
    assert [f.at for f in engine.of("late")] == [START + 300, START + 360]
    assert [f.at for f in engine.of("plain")] == [START + 360]


async def test_a_slot_at_or_before_the_last_fired_never_fires_again() -> None:
    clock, engine = FakeClock(START + 90), Engine()
    engine.cursors[("done", 0)] = START + 60  # fired on another member already
    engine.cursors[("ahead", 0)] = START + 120  # another member is ahead
    triggers = make_triggers(engine, clock)
    triggers.arm(
        [
            armed("done", {"cron": "* * * * *"}, catch_up=True),
            armed("ahead", {"cron": "* * * * *"}, catch_up=True),
        ]
    )
    async with running(triggers):
        await step_through(triggers, clock, 30.0, 4)
    assert [f.at for f in engine.of("done")] == [START + 120, START + 180]
    assert [f.at for f in engine.of("ahead")] == [START + 180]


async def test_arm_replaces_the_set_and_keeps_unchanged_timers() -> None:
    clock, engine = FakeClock(START + 10), Engine()
    triggers = make_triggers(engine, clock)
    triggers.arm([armed("a", {"cron": "*/5 * * * *"}), armed("b", {"interval": 120})])
    kept = triggers.next_at("b", 0)
    async with running(triggers):
        await settled(triggers)
        triggers.arm([armed("b", {"interval": 120}, version=2), armed("c", {"cron": "* * * * *"})])
        assert triggers.next_at("a", 0) is None
        assert triggers.next_at("b", 0) == kept == START + 120
        assert triggers.next_at("c", 0) == START + 60  # earlier than the sleep: re-planned
        await step_through(triggers, clock, 60.0, 5)
        triggers.arm([])
        await step_through(triggers, clock, 60.0, 3)
    assert engine.of("a") == []
    assert [f.at for f in engine.of("b")] == [START + 120, START + 240]
    assert [f.at for f in engine.of("c")] == [START + 60 * n for n in range(1, 6)]


async def test_a_slow_engine_does_not_delay_other_triggers() -> None:
    clock, engine = FakeClock(START), Engine()
    release = anyio.Event()
    record = engine.fire

    async def fire(firing: Firing) -> None:
        if firing.flow_id == "slow":
            await release.wait()
        await record(firing)

    def fast_fired(count: int) -> bool:
        return triggers.timers.idle and len(engine.of("fast")) == count

    triggers = make_triggers(engine, clock)
    triggers.dispatcher._fire = fire
    triggers.arm([armed("slow", {"cron": "* * * * *"}), armed("fast", {"interval": 60})])
    async with running(triggers):
        for fired in range(1, 6):
            clock.advance(60.0)
            await settle(partial(fast_fired, fired))
        assert [f.at for f in engine.of("fast")] == [START + 60 * n for n in range(1, 6)]
        assert engine.of("slow") == []
        release.set()
        await settle(lambda: len(engine.of("slow")) == 5)


async def test_a_thousand_cron_flows_share_one_sleeper_and_wake_only_when_due() -> None:
    clock, engine = FakeClock(START + 1), Engine()
    triggers = make_triggers(engine, clock)
    triggers.arm([armed(f"f{i}", {"cron": f"{i % 60} * * * *"}) for i in range(1000)])
    async with running(triggers):
        await settled(triggers)
        await quiet()
        assert (clock.sleepers, triggers.timers.wakeups) == (1, 0)
        for minute in range(1, 61):
            for _ in range(6):
                clock.advance(10.0)
                await quiet()
            await settled(triggers)
            assert (clock.sleepers, triggers.timers.wakeups) == (1, minute)
        assert len(engine.firings) == 1000
    assert sorted(f.flow_id for f in engine.firings) == sorted(f"f{i}" for i in range(1000))
    assert all(f.at == START + 60 * (int(f.flow_id[1:]) % 60 or 60) for f in engine.firings)
    assert triggers.dispatcher.dropped == 0


def test_the_queue_to_the_engine_is_bounded_and_counts_what_it_drops() -> None:
    engine = Engine()
    dispatcher = Dispatcher(engine.fire)
    firing = Firing("f", 0, "event", "x#1", START, {})
    accepted = sum(dispatcher.submit(firing) for _ in range(QUEUE_SIZE + 10))
    assert (accepted, dispatcher.dropped, dispatcher.submitted) == (QUEUE_SIZE, 10, QUEUE_SIZE)
