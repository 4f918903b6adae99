"""Running one shell command the way the task scheduler needs it.

Contract::

    @dataclass(frozen=True)
    class RunSpec:
        command: str                        # run with /bin/sh -c
        env: dict[str, str] | None = None   # added to (not replacing) the agent's environment
        cwd: str | None = None
        timeout_s: float | None = None
        output_cap: int = 10 * 1024 * 1024  # per stream (stdout and stderr separately)

    @dataclass(frozen=True)
    class RunResult:
        exit_code: int | None   # None when killed by a signal
        signal: int | None      # the signal that ended it (e.g. 9, 15), else None
        timed_out: bool
        cancelled: bool
        stdout_bytes: int       # total produced (even beyond the cap)
        stderr_bytes: int
        truncated: bool         # any stream hit the cap
        started_at: float; ended_at: float; pid: int   # wall clock (time.time())

    OutputSink = Callable[[str, bytes], Awaitable[None] | None]  # ("stdout"|"stderr", chunk)

    class ProcessRunner:
        def __init__(self, spec: RunSpec, sink: OutputSink, *, grace_s: float = 5.0) -> None
        async def start(self) -> int
        async def wait(self) -> RunResult
        async def cancel(self) -> None
        pid: int | None; started_at: float | None; running: bool   # properties

- `start()` spawns `/bin/sh -c command` in a new session, so its process group id is its pid
  and the whole tree can be signalled with `os.killpg`. It returns the pid. When the spec
  itself cannot run (cwd missing, not a directory or not permitted; an env value with a NUL)
  it raises `RunError` and no process exists; failures of the node (fork, fd exhaustion)
  stay `OSError`. Output is forwarded from here on, whether or not `wait()` is being awaited.
- `wait()` returns once the process has exited, nothing of its group is left and both pipes
  are drained to the sink (see `agent.tasks.output` for chunking and the cap). It may be
  awaited any number of times. Cancelling a task awaiting it cancels the run, so a command is
  never left running unobserved. If the sink raises, the group is terminated and `wait()`
  raises that exception.
- `cancel()` and the timeout end the group the same way: SIGTERM to the group, then SIGKILL
  after `grace_s` if anything in it remains. `cancel()` is idempotent, returns once the group
  is gone, and makes `wait()` report `cancelled=True` if the command had not exited by
  itself. Cancelling before `start()` makes `start()` raise `RunError`.
- After the shell exits by itself, leftovers in its group (`sleep 1000 &`) are ended the same
  way, so they neither survive the task nor hold its pipes open. A process that left the
  group (`setsid`) is out of reach; if it keeps a pipe open, the pipe is abandoned after it
  has been idle for `grace_s` once the group is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Literal

from agent.tasks.output import Outputs, OutputSink, RunProtocol

__all__ = ["OutputSink", "ProcessRunner", "RunError", "RunResult", "RunSpec"]

log = logging.getLogger("openfabric.tasks")

DEFAULT_OUTPUT_CAP = 10 * 1024 * 1024
_KILL_WAIT_S = 2.0  # SIGKILL cannot be refused; this only bounds a kernel that is slow to reap
_MIN_DRAIN_S = 0.05
_POLL_FIRST_S = 0.002
_POLL_MAX_S = 0.05

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

    def __init__(self, spec: RunSpec, sink: OutputSink, *, grace_s: float = 5.0) -> None:
        self._spec = spec
        self._sink = sink
        self._grace_s = max(0.0, grace_s)
        self._phase: Literal["new", "starting", "started", "failed"] = "new"
        self._transport: asyncio.SubprocessTransport | None = None
        self._pid: int | None = None
        self._started_at: float | None = None
        self._stop: asyncio.Future[Reason] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[RunResult] | None = None
        self._cancel_requested = False
        self._group_gone = asyncio.Event()  # binds to the running loop lazily

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def started_at(self) -> float | None:
        return self._started_at

    @property
    def running(self) -> bool:
        """True from `start()` until the shell process has exited."""
        return self._transport is not None and self._transport.get_returncode() is None

    async def start(self) -> int:
        if self._phase != "new":
            raise RuntimeError("ProcessRunner.start() may be called only once")
        if self._cancel_requested:
            self._phase = "failed"
            raise RunError("cancelled before it started")
        self._phase = "starting"
        spec = self._spec
        env = None if spec.env is None else {**os.environ, **spec.env}
        started_at = time.time()
        loop = asyncio.get_running_loop()
        try:
            transport, proto = await loop.subprocess_exec(
                lambda: RunProtocol(loop),
                "/bin/sh", "-c", spec.command,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, cwd=spec.cwd, start_new_session=True,
            )  # fmt: skip
        except (ValueError, TypeError) as exc:  # e.g. a NUL byte in env or command
            self._fail()
            raise RunError(f"invalid command or environment: {exc}") from exc
        except OSError as exc:
            self._fail()
            # subprocess names the cwd in the error when chdir failed in the child.
            if spec.cwd is not None and exc.filename == spec.cwd:
                raise RunError(f"cannot use cwd {spec.cwd!r}: {exc.strerror}") from exc
            raise
        except BaseException:
            # asyncio has already killed and reaped the shell if it got that far.
            self._fail()
            raise
        self._transport, self._started_at = transport, started_at
        self._pid = pid = transport.get_pid()
        self._stop = loop.create_future()
        if spec.timeout_s is not None:
            self._timer = loop.call_later(max(0.0, spec.timeout_s), self._request, "timeout")
        self._task = loop.create_task(self._supervise(transport, proto, pid))
        self._phase = "started"
        if self._cancel_requested:  # cancel() came while we were spawning
            self._request("cancel")
        return pid

    async def wait(self) -> RunResult:
        if self._task is None:
            raise RuntimeError("ProcessRunner.wait() before a successful start()")
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            # Whoever awaited us is gone; don't leave the command running unobserved.
            self._request("cancel")
            raise

    async def cancel(self) -> None:
        self._cancel_requested = True
        self._request("cancel")
        if self._phase in ("starting", "started"):
            await self._group_gone.wait()

    def _fail(self) -> None:
        self._phase = "failed"
        self._group_gone.set()

    def _request(self, reason: Reason) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(reason)

    async def _supervise(
        self, transport: asyncio.SubprocessTransport, proto: RunProtocol, pgid: int
    ) -> RunResult:
        # start_new_session made the shell a session and group leader: its pgid is its pid.
        assert self._stop is not None
        # A failing sink means nobody takes the output any more: stop the command.
        outputs = Outputs(transport, proto, self._sink, self._spec.output_cap,
                          on_failure=lambda: self._request("error"))  # fmt: skip
        reason: Reason | None = None
        try:
            await asyncio.wait((proto.exited, self._stop), return_when=asyncio.FIRST_COMPLETED)
            if not proto.exited.done():
                reason = self._stop.result()
            # Also after a normal exit: background children must not outlive the task.
            await self._end_group(pgid, proto.exited)
            await proto.exited
            ended_at = time.time()
            self._group_gone.set()
            await outputs.drain(max(self._grace_s, _MIN_DRAIN_S))
        finally:
            if not self._group_gone.is_set():  # we were cancelled or failed mid-way
                _signal_group(pgid, signal.SIGKILL)
                self._group_gone.set()
            if self._timer is not None:
                self._timer.cancel()
            outputs.close()
            transport.close()  # normally closed already; not if a pump stopped early
        outputs.raise_failure()
        rc = transport.get_returncode()
        assert rc is not None
        return RunResult(
            exit_code=rc if rc >= 0 else None,
            signal=-rc if rc < 0 else None,
            timed_out=reason == "timeout",
            cancelled=reason == "cancel",
            stdout_bytes=outputs.stdout.total,
            stderr_bytes=outputs.stderr.total,
            truncated=outputs.truncated,
            started_at=self._started_at or ended_at,
            ended_at=ended_at,
            pid=pgid,
        )

    async def _end_group(self, pgid: int, exited: asyncio.Future[None]) -> None:
        """SIGTERM the group, then SIGKILL whatever is still in it after the grace period."""
        if not _signal_group(pgid, signal.SIGTERM):
            return  # the usual case after a normal exit: the group is already empty
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace_s
        if not exited.done():  # the shell's exit is an event; only leftovers need polling
            await asyncio.wait((exited,), timeout=self._grace_s)
        if await _group_gone_by(pgid, deadline):
            return
        log.info("process group %d outlived SIGTERM by %.1fs; sending SIGKILL", pgid, self._grace_s)
        _signal_group(pgid, signal.SIGKILL)
        if not await _group_gone_by(pgid, loop.time() + _KILL_WAIT_S):
            log.warning("process group %d still exists after SIGKILL", pgid)


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal the group; False when it has no members left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed user (setuid): it is there, but not ours
        log.warning("not permitted to signal process group %d", pgid)
    return True


async def _group_gone_by(pgid: int, deadline: float) -> bool:
    # No kernel event reports an empty process group, and its members are not our children
    # (they are reparented to init), so poll, backing off; this runs only on the kill path.
    loop = asyncio.get_running_loop()
    delay = _POLL_FIRST_S
    while _group_alive(pgid):
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, _POLL_MAX_S)
    return True


def _group_alive(pgid: int) -> bool:
    """Whether a process that is not a zombie is in the group.

    killpg(0) succeeds for zombies too, and where init does not reap orphans (some containers
    and VMs) dead leftovers stay zombies for good; they must not count as still running.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        entries = os.scandir("/proc")
    except OSError:
        return True  # no procfs (e.g. macOS): trust killpg
    with entries:
        for entry in entries:
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    with open(f"/proc/{entry.name}/stat", "rb") as f:
                        fields = f.read().rpartition(b")")[2].split()  # comm may hold ")"
                    if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                        return True
    return False
