"""ProcessRunner against real processes: output, exit, env/cwd, timeout, cancel, no orphans."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import psutil
import pytest

from agent.tasks.output import truncation_marker
from agent.tasks.runner import ProcessRunner, RunError, RunResult, RunSpec

BOUND = 15.0  # generous upper bound for anything that should be prompt


class Collect:
    """A sink that keeps every chunk and lets a test await a given piece of output."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, bytes]] = []
        self._changed = asyncio.Event()

    def __call__(self, stream: str, chunk: bytes) -> None:
        self.chunks.append((stream, chunk))
        self._changed.set()

    def data(self, stream: str) -> bytes:
        return b"".join(c for s, c in self.chunks if s == stream)

    async def until(self, stream: str, needle: bytes) -> None:
        async with asyncio.timeout(BOUND):
            while needle not in self.data(stream):
                self._changed.clear()
                await self._changed.wait()


async def run(command: str, grace_s: float = 5.0, **spec: object) -> tuple[RunResult, Collect]:
    sink = Collect()
    runner = ProcessRunner(RunSpec(command, **spec), sink, grace_s=grace_s)  # type: ignore[arg-type]
    await runner.start()
    return await asyncio.wait_for(runner.wait(), BOUND), sink


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie (orphans may stay zombies where init does not
    reap them, as in some containers)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and alive(proc.pid):
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return members


async def eventually(check: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def children_of(pid: int, count: int) -> list[int]:
    found: list[int] = []

    def enough() -> bool:
        found[:] = [c.pid for c in psutil.Process(pid).children(recursive=True)]
        return len(found) >= count

    await eventually(enough, f"{count} children of {pid}")
    return found


async def test_stdout_and_stderr_arrive_in_order_per_stream() -> None:
    result, out = await run("for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done")
    assert out.data("stdout") == b"".join(f"out{i}\n".encode() for i in range(1, 6))
    assert out.data("stderr") == b"".join(f"err{i}\n".encode() for i in range(1, 6))
    assert (result.stdout_bytes, result.stderr_bytes) == (25, 25)
    assert not result.truncated
    assert result.started_at <= result.ended_at


async def test_async_sink_is_awaited() -> None:
    got: list[bytes] = []

    async def sink(stream: str, chunk: bytes) -> None:
        await asyncio.sleep(0)
        got.append(chunk)

    runner = ProcessRunner(RunSpec("echo a; echo b"), sink)
    await runner.start()
    result = await asyncio.wait_for(runner.wait(), BOUND)
    assert b"".join(got) == b"a\nb\n"
    assert result.exit_code == 0


@pytest.mark.parametrize("code", [0, 3])
async def test_exit_code(code: int) -> None:
    result, _ = await run(f"exit {code}")
    assert (result.exit_code, result.signal, result.timed_out, result.cancelled) == (
        code, None, False, False,
    )  # fmt: skip


@pytest.fixture
def real_tmp(tmp_path: Path) -> str:
    return os.path.realpath(tmp_path)  # what `pwd` prints there


async def test_env_is_added_to_a_clean_base_and_cwd_is_used(
    real_tmp: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent's own environment (its home, its secrets) never reaches a task.
    monkeypatch.setenv("OPENFABRIC_TEST_INHERITED", "inherited")
    _, out = await run('echo "$FOO ${OPENFABRIC_TEST_INHERITED-unset}"; pwd', env={"FOO": "bar"},
                       cwd=real_tmp)  # fmt: skip
    assert out.data("stdout").decode().splitlines() == ["bar unset", real_tmp]


async def test_missing_cwd_raises_run_error_and_starts_nothing(tmp_path: Path) -> None:
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    runner = ProcessRunner(RunSpec("echo hi", cwd=str(tmp_path / "missing")), Collect())
    with pytest.raises(RunError, match="missing"):
        await runner.start()
    assert runner.pid is None
    assert not runner.running
    assert {c.pid for c in psutil.Process().children(recursive=True)} <= before
    await asyncio.wait_for(runner.cancel(), BOUND)  # harmless after a failed start


async def test_timeout_terminates_the_group() -> None:
    result, _ = await run("sleep 30", timeout_s=0.3)
    assert result.timed_out
    assert not result.cancelled
    assert result.exit_code is None
    assert result.signal == signal.SIGTERM
    assert group_members(result.pid) == []


async def test_cancel_kills_the_whole_group() -> None:
    runner = ProcessRunner(RunSpec("sleep 1000 & sleep 1000"), Collect())
    pid = await runner.start()
    assert runner.running
    children = await children_of(pid, 2)
    await asyncio.wait_for(runner.cancel(), BOUND)
    await asyncio.wait_for(runner.cancel(), BOUND)  # idempotent
    result = await asyncio.wait_for(runner.wait(), BOUND)
    assert result.cancelled
    assert not result.timed_out
    assert result.signal == signal.SIGTERM
    assert not runner.running
    assert not any(alive(c) for c in children)
    assert group_members(pid) == []


async def test_leftover_background_child_is_killed_after_a_normal_exit() -> None:
    result, out = await run("sleep 1000 & echo $!")
    child = int(out.data("stdout"))
    assert result.exit_code == 0
    assert not result.cancelled
    assert not alive(child)
    assert group_members(result.pid) == []


async def test_child_ignoring_sigterm_gets_sigkill_on_cancel() -> None:
    runner = ProcessRunner(RunSpec("trap '' TERM; sleep 1000"), Collect(), grace_s=0.2)
    pid = await runner.start()
    children = await children_of(pid, 1)
    await asyncio.wait_for(runner.cancel(), BOUND)
    result = await asyncio.wait_for(runner.wait(), BOUND)
    assert result.cancelled
    assert result.signal == signal.SIGKILL
    assert not any(alive(c) for c in children)


async def test_leftover_ignoring_sigterm_gets_sigkill_after_a_normal_exit() -> None:
    result, out = await run("(trap '' TERM; exec sleep 1000) & echo $!", grace_s=0.2)
    assert result.exit_code == 0
    assert not alive(int(out.data("stdout")))
    assert group_members(result.pid) == []


async def test_output_beyond_the_cap_is_counted_not_kept() -> None:
    result, out = await run("head -c 3000000 /dev/zero", output_cap=1_000_000)
    chunks = [c for s, c in out.chunks if s == "stdout"]
    marker = truncation_marker(1_000_000)
    assert chunks[-1] == marker
    assert marker not in chunks[:-1]
    assert sum(len(c) for c in chunks[:-1]) == 1_000_000
    assert result.stdout_bytes == 3_000_000
    assert result.truncated
    assert result.exit_code == 0


async def test_output_exactly_at_the_cap_is_not_truncated() -> None:
    result, out = await run("head -c 5000 /dev/zero", output_cap=5000)
    assert out.data("stdout") == bytes(5000)
    assert not result.truncated


def test_marker_names_the_cap() -> None:
    assert truncation_marker(10 * 1024 * 1024) == b"\n[openfabric: output truncated at 10 MiB]\n"


async def test_output_is_streamed_as_it_is_produced(tmp_path: Path) -> None:
    out = Collect()
    command = "echo one; while [ ! -e FLAG ]; do sleep 0.01; done; echo two"
    runner = ProcessRunner(RunSpec(command, cwd=str(tmp_path)), out)
    await runner.start()
    results: list[RunResult] = []

    async def follow() -> None:
        results.append(await runner.wait())

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            group.start_soon(follow)
            await out.until("stdout", b"one\n")
            assert b"two" not in out.data("stdout")
            (tmp_path / "FLAG").touch()
    assert out.data("stdout") == b"one\ntwo\n"
    assert results[0].exit_code == 0


async def test_waiters_share_the_outcome_and_the_timeout_counts_from_start() -> None:
    # Nobody follows the run until wait(); the timeout still counts from start().
    runner = ProcessRunner(RunSpec("exec sleep 1000", timeout_s=0.2), Collect(), grace_s=0.2)
    pid = await runner.start()
    results: list[RunResult] = []

    async def follow() -> None:
        results.append(await runner.wait())

    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(follow)
    assert len(results) == 3
    assert all(r is results[0] for r in results)
    assert results[0].timed_out
    assert not alive(pid)


@pytest.mark.slow
async def test_many_concurrent_runs() -> None:
    async def one() -> RunResult:
        runner = ProcessRunner(RunSpec("true"), Collect())
        await runner.start()
        return await runner.wait()

    results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(200))), 60)
    assert [r.exit_code for r in results] == [0] * 200


async def test_a_failing_sink_stops_the_command_and_is_raised() -> None:
    def sink(stream: str, chunk: bytes) -> None:
        raise ValueError("sink broke")

    # More output than the pipe and the reader's buffer hold, then a hang: nothing may block.
    runner = ProcessRunner(RunSpec("head -c 1000000 /dev/zero; exec sleep 1000"), sink)
    pid = await runner.start()
    with pytest.raises(ValueError, match="sink broke"):
        await asyncio.wait_for(runner.wait(), BOUND)
    assert group_members(pid) == []


async def test_cancelling_the_waiter_cancels_the_run() -> None:
    runner = ProcessRunner(RunSpec("exec sleep 1000"), Collect())
    pid = await runner.start()
    waiter = asyncio.create_task(runner.wait())
    await asyncio.sleep(0)  # let the waiter begin awaiting: a task cancelled unstarted never runs
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    result = await asyncio.wait_for(runner.wait(), BOUND)
    assert result.cancelled
    assert not alive(pid)


async def test_cancel_after_exit_changes_nothing() -> None:
    runner = ProcessRunner(RunSpec("exit 2"), Collect())
    await runner.start()
    first = await asyncio.wait_for(runner.wait(), BOUND)
    await asyncio.wait_for(runner.cancel(), BOUND)
    assert await runner.wait() == first
    assert (first.exit_code, first.cancelled) == (2, False)


async def test_cancel_before_start() -> None:
    runner = ProcessRunner(RunSpec("true"), Collect())
    await runner.cancel()
    with pytest.raises(RunError):
        await runner.start()


async def test_process_that_left_the_group_is_ended_too(tmp_path: Path) -> None:
    # setsid leaves the process group (killpg cannot reach it) and keeps stdout/stderr open;
    # the supervisor still ends it, so the run neither hangs nor leaves it behind.
    pidfile = tmp_path / "pid"
    command = (
        f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 1000' & "
        f"while [ ! -s {pidfile} ]; do sleep 0.01; done; echo started"
    )
    try:
        result, out = await run(command, grace_s=0.2)
        assert result.exit_code == 0
        assert out.data("stdout") == b"started\n"
        assert not alive(int(pidfile.read_text()))
    finally:
        if pidfile.exists() and pidfile.read_text().strip():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
