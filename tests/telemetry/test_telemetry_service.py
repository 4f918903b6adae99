"""TelemetryService and the subsystem lifecycle with a real EventBus and Context."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
from telemetry_fakes import GIB, FakeClock, FakeNvml

from agent.core.bus import next_event
from agent.core.subsystem import Context
from agent.telemetry.gpu import GpuReader
from agent.telemetry.models import TelemetrySample
from agent.telemetry.service import ring_size, summarize
from agent.telemetry.subsystem import NODE_TELEMETRY, assemble

EVENT_TIMEOUT = 5.0


def test_constructor_does_no_sampling(ctx: Context, fake_nvml: FakeNvml) -> None:
    subsystem = assemble(ctx, gpu=GpuReader(fake_nvml))
    assert subsystem.name == "telemetry"
    assert subsystem.service.latest() is None
    assert subsystem.service.history() == []
    assert fake_nvml.init_calls == 0
    assert ctx.bus.published_total == 0


async def test_start_samples_at_once_then_publishes_every_interval(
    ctx: Context, running: Callable, absent_nvml: FakeNvml
) -> None:
    subsystem = assemble(ctx, gpu=GpuReader(absent_nvml))
    sub = ctx.bus.subscribe([NODE_TELEMETRY.name])

    async with running(ctx, subsystem):
        assert subsystem.service.latest() is not None  # ready as soon as start() returns
        events = []
        for _ in range(3):
            event = await next_event(sub, EVENT_TIMEOUT)
            assert event is not None, "no telemetry event within the timeout"
            events.append(event)

    assert [e.topic for e in events] == [NODE_TELEMETRY.name] * 3
    assert all(e.data["node_id"] == ctx.identity.node_id for e in events)
    assert events[0].data["ts"] < events[1].data["ts"] < events[2].data["ts"]
    assert {"cpu", "memory", "storage", "gpus", "system"} <= set(events[-1].data)
    history = subsystem.service.history()
    assert len(history) >= 3
    # Each event is its sample's JSON, exactly: every field of the model, nothing else.
    for event in events:
        (sample,) = [s for s in history if s.ts == event.data["ts"]]
        assert event.data == sample.model_dump(mode="json")
        assert TelemetrySample.model_validate(event.data) == sample

    samples = ctx.metrics.registry.get_sample_value("openfabric_telemetry_samples_total")
    assert samples is not None
    assert samples >= 3
    timed = ctx.metrics.registry.get_sample_value("openfabric_telemetry_sample_seconds_count")
    assert timed is not None
    assert timed >= 3


async def test_stop_ends_the_loop_promptly_and_shuts_nvml_down(
    ctx: Context, fake_nvml: FakeNvml
) -> None:
    subsystem = assemble(ctx, gpu=GpuReader(fake_nvml))
    sub = ctx.bus.subscribe([NODE_TELEMETRY.name])
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            ctx.task_group = tg
            await subsystem.start()
            assert await next_event(sub, EVENT_TIMEOUT) is not None
            assert await next_event(sub, EVENT_TIMEOUT) is not None
            started = time.monotonic()
            await subsystem.stop()
            assert time.monotonic() - started < 1.0
            # no cancel here: the task group only exits if stop() really ended the loop
    assert fake_nvml.init_calls == 1
    assert fake_nvml.shutdown_calls == 1


async def test_ring_is_bounded_by_window_over_interval(
    context_factory: Callable[..., Context], absent_nvml: FakeNvml
) -> None:
    ctx = context_factory(telemetry_interval=1.0, telemetry_window=10)
    clock = FakeClock()
    ctx.clock = clock
    service = assemble(ctx, gpu=GpuReader(absent_nvml)).service

    for _ in range(13):
        await service.sample_now()
        clock.advance(1.0)

    history = service.history()
    assert len(history) == 10
    assert [s.ts for s in history] == [clock.now - 10 + i for i in range(10)]
    assert service.latest_sample() is history[-1]
    # What other subsystems and heartbeats read: the newest sample's JSON.
    assert service.latest() == history[-1].model_dump(mode="json")
    assert ring_size(1200, 1.0) == 1200
    assert ring_size(1200, 0.1) == 12000
    assert ring_size(10, 60) == 1


async def test_history_filters_by_age(
    context_factory: Callable[..., Context], absent_nvml: FakeNvml
) -> None:
    ctx = context_factory(telemetry_interval=1.0)
    clock = FakeClock(1000.0)
    ctx.clock = clock
    service = assemble(ctx, gpu=GpuReader(absent_nvml)).service
    for _ in range(3):  # samples at 1000, 1005, 1010
        await service.sample_now()
        clock.advance(5.0)
    clock.now = 1010.0

    assert [s.ts for s in service.history()] == [1000.0, 1005.0, 1010.0]
    assert [s.ts for s in service.history(6)] == [1005.0, 1010.0]
    assert [s.ts for s in service.history(0.5)] == [1010.0]
    clock.advance(100.0)
    assert service.history(10) == []


async def test_summary_of_the_latest_sample(ctx: Context, fake_nvml: FakeNvml) -> None:
    service = assemble(ctx, gpu=GpuReader(fake_nvml)).service
    assert service.summary()["ts"] is None

    sample = await service.sample_now()
    summary = service.summary()

    assert summary == {
        "ts": sample.ts,
        "cpu_percent": sample.cpu.percent,
        "load": sample.cpu.load,
        "memory_total": sample.memory.total,
        "memory_available": sample.memory.available,
        "storage_total": sample.storage.total,
        "storage_free": sample.storage.free,
        "gpu_count": 2,
        "vram_total": 40 * GIB,
        "vram_used": 6 * GIB,
    }
    assert set(summarize(None)) == set(summary)


async def test_concurrent_sample_now_calls_do_not_overlap(
    ctx: Context, absent_nvml: FakeNvml
) -> None:
    service = assemble(ctx, gpu=GpuReader(absent_nvml)).service
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(service.sample_now)
    history = service.history()
    assert len(history) == 5
    assert [s.ts for s in history] == sorted(s.ts for s in history)
    assert ctx.bus.published_total == 5
    # The JSON others read is always that of the newest sample, however calls interleave.
    assert service.latest() == history[-1].model_dump(mode="json")
