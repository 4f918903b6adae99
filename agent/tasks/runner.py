"""Running one shell command the way the task scheduler needs it.

Contract::

    @dataclass(frozen=True)
    class RunSpec:
        command: str                        # run with /bin/sh -c
        env: dict[str, str] | None = None   # added to a clean base (see agent.tasks.account)
        cwd: str | None = None              # None: the task account's home, else /
        timeout_s: float | None = None
        output_cap: int = 10 * 1024 * 1024  # per stream (stdout and stderr separately)

    @dataclass(frozen=True)
    class RunResult:
        exit_code: int | None   # None when killed by a signal
        signal: int | None      # the signal that ended the shell (e.g. 9, 15), else None
        timed_out: bool
        cancelled: bool
        stdout_bytes: int       # total produced (even beyond the cap)
        stderr_bytes: int
        truncated: bool         # any stream hit the cap
        started_at: float; ended_at: float; pid: int   # wall clock (time.time())

    OutputSink = Callable[[str, bytes], Awaitable[None] | None]  # ("stdout"|"stderr", chunk)

    class ProcessRunner:
        def __init__(self, spec: RunSpec, sink: OutputSink, *, grace_s: float = 5.0,
                     jail: TaskJail | None = None) -> None
        async def start(self) -> int
        async def wait(self) -> RunResult
        async def cancel(self) -> None
        pid: int | None; started_at: float | None; running: bool   # properties

- `start()` spawns the task's supervisor (`agent.tasks.shim`, see `agent.tasks.containment`)
  in a new session, which runs `/bin/sh -c command` as the jail's account with a clean
  environment, in a process group of its own. It returns the shell's pid, which is also that
  group's id. When the spec itself cannot run (cwd missing, not a directory or not permitted; a NUL
  in the command or env) it raises `RunError` and no process is left; failures of the node
  (fork, fd exhaustion) stay `OSError`. The timeout counts from here.
- The run is followed (output pumped to the sink, the timeout enforced, leftovers ended) by
  the task that first awaits `wait()` or `cancel()`, inside a task group of its own: no work
  outlives its caller. Until then the command runs and its output waits in the pipes, so a
  caller that wants output while it does something else runs `wait()` in its own task group.
- `wait()` returns once the shell has exited, no descendant of it is left (`setsid` and
  double-forked ones included) and both pipes are drained to the sink (see
  `agent.tasks.output` for chunking and the cap). It may be awaited any number of times, by
  several tasks at once. Cancelling a task awaiting it cancels the run, so a command is never
  left running unobserved. If the sink raises, the task is ended and `wait()` raises that
  exception.
- `cancel()` and the timeout end the task the same way: SIGTERM to every descendant, then
  SIGKILL after `grace_s` to whatever remains. `cancel()` is idempotent, returns once the task
  is gone, and makes `wait()` report `cancelled=True` if the shell had not exited by itself.
  Cancelling before `start()` makes `start()` raise `RunError`. When the task following the
  run is itself cancelled, the supervisor is let go instead (it ends the task within about a
  second) and later waiters get `cancelled=True`.
- After the shell exits by itself, its leftovers (`sleep 1000 &`, `setsid daemon`) are ended
  the same way, so they neither survive the task nor hold its pipes open. If the agent dies,
  the supervisor ends the task within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from typing import Literal

import anyio

from agent.tasks.containment import ORPHAN_GRACE_S, TaskJail
from agent.tasks.groups import end_group, signal_group
from agent.tasks.output import Outputs, OutputSink
from agent.tasks.supervisor import KILL_WAIT_S, StartRefused, Supervisor, spawn

__all__ = ["OutputSink", "ProcessRunner", "RunError", "RunResult", "RunSpec"]

log = logging.getLogger("openfabric.tasks")

DEFAULT_OUTPUT_CAP = 10 * 1024 * 1024
_MIN_DRAIN_S = 0.05
_DEFAULT_JAIL = TaskJail()

Reason = Literal["cancel", "timeout", "error"]


class RunError(Exception):
    """The command could not be started for reasons of its own (e.g. its cwd is missing)."""


@dataclass(frozen=True)
class RunSpec:
    command: str
    env: dict[str, str] | None = None
    cwd: str | None = None
    timeout_s: float | None = None
    output_cap: int = DEFAULT_OUTPUT_CAP


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    signal: int | None
    timed_out: bool
    cancelled: bool
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool
    started_at: float
    ended_at: float
    pid: int


class ProcessRunner:
    """One run of one `RunSpec`; see the module docstring for the contract."""

    def __init__(
        self,
        spec: RunSpec,
        sink: OutputSink,
        *,
        grace_s: float = 5.0,
        jail: TaskJail | None = None,
    ) -> None:
        self._spec = spec
        self._sink = sink
        self._grace_s = max(0.0, grace_s)
        self._jail = jail or _DEFAULT_JAIL
        self._phase: Literal["new", "starting", "started", "failed"] = "new"
        self._settled = anyio.Event()  # start() is over, one way or the other
        self._shim: Supervisor | None = None
        self._pid: int | None = None
        self._started_at: float | None = None
        self._deadline: float | None = None
        self._shell_rc: int | None = None
        self._shell_done = anyio.Event()
        self._stop_reason: Reason | None = None
        # Set by whatever should make the follower look again: a stop request, the shell's
        # exit report, the supervisor's exit.
        self._attention = anyio.Event()
        self._cancel_requested = False
        self._group_gone = anyio.Event()
        self._followed = False
        self._done = anyio.Event()
        self._reason: Reason | None = None
        self._ended_at: float | None = None
        self._result: RunResult | None = None
        self._failure: Exception | None = None

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def started_at(self) -> float | None:
        return self._started_at

    @property
    def running(self) -> bool:
        """True from `start()` until the shell process has exited."""
        shim = self._shim
        return shim is not None and not self._shell_done.is_set() and not shim.exited.is_set()

    async def start(self) -> int:
        if self._phase != "new":
            raise RuntimeError("ProcessRunner.start() may be called only once")
        if self._cancel_requested:
            self._fail()
            raise RunError("cancelled before it started")
        self._phase = "starting"
        spec = self._spec
        started_at = time.time()
        try:
            _check(spec)
            shim = await spawn(self._jail)
            config = self._jail.config(spec.command, spec.env, spec.cwd, self._grace_s, shim.cgroup)
            pid = await shim.handshake(config, self._jail, self._grace_s)
        except StartRefused as exc:
            self._fail()
            raise RunError(str(exc)) from None
        except BaseException:
            self._fail()
            raise
        self._shim, self._started_at, self._pid = shim, started_at, pid
        if spec.timeout_s is not None:
            self._deadline = anyio.current_time() + max(0.0, spec.timeout_s)
        self._phase = "started"
        self._settled.set()
        return pid

    async def wait(self) -> RunResult:
        if self._shim is None:
            raise RuntimeError("ProcessRunner.wait() before a successful start()")
        try:
            return await self._outcome()
        except anyio.get_cancelled_exc_class():
            # Whoever awaited us is gone; don't leave the command running unobserved.
            self._request("cancel")
            raise

    async def cancel(self) -> None:
        self._cancel_requested = True
        self._request("cancel")
        if self._phase == "starting":
            await self._settled.wait()
        if self._phase != "started":
            return
        if self._followed:
            await self._group_gone.wait()
            return
        with contextlib.suppress(Exception):  # a failing sink is wait()'s to report
            await self._outcome()

    async def _outcome(self) -> RunResult:
        """Follow the run here if nobody does yet, else wait for whoever does."""
        if not self._followed:
            self._followed = True
            await self._follow()
        else:
            await self._done.wait()
        if self._failure is not None:
            raise self._failure
        assert self._result is not None
        return self._result

    def _fail(self) -> None:
        self._phase = "failed"
        self._group_gone.set()
        self._settled.set()

    def _request(self, reason: Reason) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
            self._attention.set()

    async def _follow(self) -> None:
        shim, pgid = self._shim, self._pid
        assert shim is not None
        assert pgid is not None
        # A failing sink means nobody takes the output any more: stop the command.
        outputs = Outputs(shim.transport, shim.proto, self._sink, self._spec.output_cap,
                          on_failure=lambda: self._request("error"))  # fmt: skip
        try:
            async with anyio.create_task_group() as group:
                outputs.start(group)
                group.start_soon(self._listen, shim.reader, name="tasks.runner.listen")
                group.start_soon(self._on_exit, shim.exited, name="tasks.runner.exit")
                await self._contain(shim, pgid)
                await outputs.drain(max(self._grace_s, _MIN_DRAIN_S))
                group.cancel_scope.cancel()
        except BaseException:
            # Cancelled (or failed) mid-way: on EOF the supervisor ends the task within a second.
            if not self._group_gone.is_set():
                shim.writer.close()
                with anyio.CancelScope(shield=True):
                    await shim.exit_within(ORPHAN_GRACE_S + KILL_WAIT_S)
                self._group_gone.set()
                self._reason = "cancel"
            self._result = self._result_of(shim, outputs)
            raise
        else:
            self._failure = outputs.failure()
            self._result = self._result_of(shim, outputs)
        finally:
            shim.writer.close()
            shim.transport.close()  # normally closed already; not if a pump stopped early
            self._done.set()

    async def _contain(self, shim: Supervisor, pgid: int) -> None:
        """Wait for the shell's end (or end it), then make sure nothing of it is left."""
        exited = shim.exited
        left = None if self._deadline is None else self._deadline - anyio.current_time()
        with anyio.move_on_after(None if left is None else max(0.0, left)) as timer:
            await self._attention.wait()
        if timer.cancelled_caught:
            self._request("timeout")
        if not self._shell_done.is_set() and not exited.is_set():
            self._reason = self._stop_reason
            shim.ask_end()
        if not await shim.exit_within(self._grace_s + KILL_WAIT_S + 1):
            log.warning("the supervisor of task %d outlived its end; killing it", pgid)
            signal_group(pgid, signal.SIGKILL)
            shim.transport.kill()
            await exited.wait()
        with anyio.move_on_after(1):  # its last words may trail its exit
            await self._shell_done.wait()
        # Only where the supervisor could not contain the task (no subreaper, killed).
        await end_group(pgid, exited, self._grace_s)
        if shim.cgroup is not None and self._jail.cgroups is not None:
            await self._jail.cgroups.remove(shim.cgroup)
        self._ended_at = time.time()
        self._group_gone.set()

    def _result_of(self, shim: Supervisor, outputs: Outputs) -> RunResult:
        rc = self._shell_rc if self._shell_rc is not None else shim.transport.get_returncode()
        ended_at = self._ended_at or time.time()
        return RunResult(
            exit_code=rc if rc is not None and rc >= 0 else None,
            signal=-rc if rc is not None and rc < 0 else None,
            timed_out=self._reason == "timeout",
            cancelled=self._reason == "cancel",
            stdout_bytes=outputs.stdout.total,
            stderr_bytes=outputs.stderr.total,
            truncated=outputs.truncated,
            started_at=self._started_at or ended_at,
            ended_at=ended_at,
            pid=self._pid or 0,
        )

    async def _on_exit(self, exited: anyio.Event) -> None:
        await exited.wait()
        self._attention.set()

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        """Returns when the shell has exited (`X<rc>`) or the supervisor is gone (EOF)."""
        with contextlib.suppress(OSError, ValueError):
            while line := await reader.readline():
                if line.startswith(b"X"):
                    self._shell_rc = int(line[1:])
                    break
        self._shell_done.set()
        self._attention.set()


def _check(spec: RunSpec) -> None:
    items = [spec.command, spec.cwd or "", *(spec.env or {}), *(spec.env or {}).values()]
    if any("\0" in item for item in items):
        raise RunError("invalid command or environment: embedded null byte")
    if any(not key or "=" in key for key in spec.env or {}):
        raise RunError("invalid command or environment: bad variable name")
