"""Fixtures for the telemetry tests: a real Context, a running subsystem, and a fake NVML."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from telemetry_fakes import FakeClock, FakeNvml, two_gpus

from agent.core.bus import EventBus
from agent.core.db import Database
from agent.core.metrics import Metrics
from agent.core.subsystem import Context
from agent.peer.identity import load_or_create_identity
from agent.settings import Settings
from agent.telemetry.subsystem import TelemetrySubsystem


@pytest.fixture
def fake_nvml() -> FakeNvml:
    return FakeNvml(two_gpus())


@pytest.fixture
def absent_nvml() -> FakeNvml:
    return FakeNvml([], driver=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_context(home: Path, **settings: Any) -> Context:
    return Context(
        settings=Settings(home=home, **settings),
        db=Database(home / "db"),  # never opened: telemetry keeps nothing on disk
        bus=EventBus(),
        metrics=Metrics(),
        identity=load_or_create_identity(home),
        version="0.0-test",
    )


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path, telemetry_interval=0.1)


@pytest.fixture
def context_factory(tmp_path: Path) -> Callable[..., Context]:
    return lambda **settings: make_context(tmp_path, **settings)


Running = Callable[[Context, TelemetrySubsystem], AbstractAsyncContextManager[TelemetrySubsystem]]


@pytest.fixture
def running() -> Running:
    """Start a subsystem in a task group owned by the test's own task, as the lifespan does."""

    @asynccontextmanager
    async def run(ctx: Context, subsystem: TelemetrySubsystem) -> AsyncIterator[TelemetrySubsystem]:
        async with anyio.create_task_group() as tg:
            ctx.task_group = tg
            await subsystem.start()
            try:
                yield subsystem
            finally:
                await subsystem.stop()
                tg.cancel_scope.cancel()

    return run
