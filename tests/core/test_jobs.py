"""Background jobs are owned by their subsystem: they end before its stop() closes anything."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from starlette.routing import BaseRoute

from agent.app import _stop_all, build_context
from agent.core.subsystem import Context, Subsystem
from tests.harness import make_settings


class Client:
    """Stands for an HTTP client: using it once closed is the defect."""

    def __init__(self) -> None:
        self.closed = False
        self.used_closed = 0
        self.uses = 0

    def use(self) -> None:
        self.uses += 1
        if self.closed:
            self.used_closed += 1


class Polling:
    """Its job uses its client at every checkpoint; stop() closes the client."""

    def __init__(self, ctx: Context, name: str, watch: str = "") -> None:
        self.ctx, self.name, self.client = ctx, name, Client()
        self.watch = watch
        self.stopped_with: list[str] = []
        self.watched_at_stop: list[str] = []

    def routes(self) -> list[BaseRoute]:
        return []

    async def start(self) -> None:
        self.ctx.spawn(f"{self.name}.poll", self.poll)

    async def poll(self) -> None:
        while True:
            self.client.use()
            await anyio.lowlevel.checkpoint()

    async def stop(self) -> None:
        self.stopped_with = self.ctx.jobs.running(self.name)
        self.watched_at_stop = self.ctx.jobs.running(self.watch)
        self.client.closed = True


class Slow:
    """Started first, so stopped last; its stop() yields many times, as a slow one would."""

    name = "slow"

    def routes(self) -> list[BaseRoute]:
        return []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for _ in range(200):
            await anyio.lowlevel.checkpoint()


@asynccontextmanager
async def lifespan(ctx: Context, subsystems: list[Subsystem]) -> AsyncIterator[None]:
    """What the app's lifespan does, with subsystems of the test's choosing."""
    async with anyio.create_task_group() as tg:
        ctx.task_group = tg
        for subsystem in subsystems:
            await subsystem.start()
        try:
            yield
        finally:
            await _stop_all(ctx, subsystems)
            tg.cancel_scope.cancel()


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return build_context(make_settings(tmp_path / "home"))


async def test_a_subsystems_jobs_end_before_its_stop_closes_their_client(ctx: Context) -> None:
    llm = Polling(ctx, "llm")
    async with lifespan(ctx, [Slow(), llm]):
        while llm.client.uses < 10:
            await anyio.lowlevel.checkpoint()
    assert llm.stopped_with == [], "stop() ran while the subsystem's jobs were still running"
    assert llm.client.used_closed == 0


async def test_each_subsystem_keeps_its_jobs_until_its_own_turn(ctx: Context) -> None:
    first, second = Polling(ctx, "first"), Polling(ctx, "second", watch="first")
    async with lifespan(ctx, [first, second]):
        while first.client.uses < 3 or second.client.uses < 3:
            await anyio.lowlevel.checkpoint()
    # Stopped in reverse order: while `second` stopped, `first`'s job still ran.
    assert second.stopped_with == []
    assert second.watched_at_stop == ["first.poll"]
    assert first.stopped_with == []
    assert first.client.used_closed == second.client.used_closed == 0


async def test_a_job_cancelled_before_it_ran_never_runs(ctx: Context) -> None:
    ran: list[str] = []

    async def job() -> None:
        ran.append("started")
        await anyio.sleep(30)

    async with anyio.create_task_group() as tg:
        ctx.task_group = tg
        ctx.spawn("llm.monitor", job)
        with anyio.fail_after(5):
            await ctx.jobs.cancel("llm")
    assert ctx.jobs.running("llm") == []
    assert ran in ([], ["started"])


async def test_no_new_jobs_once_the_owner_is_stopping(ctx: Context) -> None:
    ran: list[str] = []

    async def job() -> None:
        ran.append("ran")

    async with anyio.create_task_group() as tg:
        ctx.task_group = tg
        await ctx.jobs.cancel("llm")
        ctx.spawn("llm.late", job)
        ctx.spawn("cluster.other", job)
    assert ran == ["ran"]


async def test_a_crashing_job_is_logged_and_the_others_go_on(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    beats: list[int] = []

    async def crash() -> None:
        raise ValueError("boom")

    async def steady() -> None:
        while True:
            beats.append(1)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        ctx.task_group = tg
        with caplog.at_level(logging.ERROR, logger="openfabric"):
            ctx.spawn("tasks.crash", crash)
            ctx.spawn("tasks.steady", steady)
            while len(beats) < 20:
                await anyio.lowlevel.checkpoint()
        assert ctx.jobs.running("tasks") == ["tasks.steady"]
        with anyio.fail_after(5):
            await ctx.jobs.cancel("tasks")
    assert "background task tasks.crash failed" in caplog.text
