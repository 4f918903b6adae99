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
  (fork, fd exhaustion) stay `OSError`. Output is forwarded from here on, whether or not
  `wait()` is being awaited.
- `wait()` returns once the shell has exited, no descendant of it is left (`setsid` and
  double-forked ones included) and both pipes are drained to the sink (see
  `agent.tasks.output` for chunking and the cap). It may be awaited any number of times.
  Cancelling a task awaiting it cancels the run, so a command is never left running
  unobserved. If the sink raises, the task is ended and `wait()` raises that exception.
- `cancel()` and the timeout end the task the same way: SIGTERM to every descendant, then
  SIGKILL after `grace_s` to whatever remains. `cancel()` is idempotent, returns once the task
  is gone, and makes `wait()` report `cancelled=True` if the shell had not exited by itself.
  Cancelling before `start()` makes `start()` raise `RunError`.
- After the shell exits by itself, its leftovers (`sleep 1000 &`, `setsid daemon`) are ended
  the same way, so they neither survive the task nor hold its pipes open. If the agent dies,
  the supervisor ends the task within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.tasks.containment import ORPHAN_GRACE_S, TaskJail
from agent.tasks.groups import end_group, signal_group
from agent.tasks.output import Outputs, OutputSink, RunProtocol

__all__ = ["OutputSink", "ProcessRunner", "RunError", "RunResult", "RunSpec"]

log = logging.getLogger("openfabric.tasks")

DEFAULT_OUTPUT_CAP = 10 * 1024 * 1024
_KILL_WAIT_S = 2.0  # SIGKILL cannot be refused; this only bounds a kernel that is slow to reap
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


@dataclass
class _Shim:
    """The supervisor of one run, and the socket to it."""

    transport: asyncio.SubprocessTransport
    proto: RunProtocol
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    cgroup: Path | None

    def ask_end(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.writer.write(b"T")

    async def exit_within(self, seconds: float) -> bool:
        await asyncio.wait((self.proto.exited,), timeout=seconds)
        return self.proto.exited.done()


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
        self._shim: _Shim | None = None
        self._pid: int | None = None
        self._started_at: float | None = None
        self._shell_rc: int | None = None
        self._shell_done = False
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
        shim = self._shim
        return shim is not None and not self._shell_done and not shim.proto.exited.done()

    async def start(self) -> int:
        if self._phase != "new":
            raise RuntimeError("ProcessRunner.start() may be called only once")
        if self._cancel_requested:
            self._phase = "failed"
            raise RunError("cancelled before it started")
        self._phase = "starting"
        spec = self._spec
        started_at = time.time()
        try:
            _check(spec)
            shim = await self._spawn()
            pid = await self._handshake(shim)
        except BaseException:
            self._fail()
            raise
        loop = asyncio.get_running_loop()
        self._shim, self._started_at, self._pid = shim, started_at, pid
        self._stop = loop.create_future()
        if spec.timeout_s is not None:
            self._timer = loop.call_later(max(0.0, spec.timeout_s), self._request, "timeout")
        self._task = loop.create_task(self._supervise(shim, pid))
        self._phase = "started"
        if self._cancel_requested:  # cancel() came while we were spawning
            self._request("cancel")
        return pid

    async def _spawn(self) -> _Shim:
        loop = asyncio.get_running_loop()
        jail = self._jail
        cgroup = jail.cgroups.create() if jail.cgroups is not None else None
        ours, theirs = socket.socketpair()
        try:
            transport, proto = await loop.subprocess_exec(
                lambda: RunProtocol(loop),
                *jail.shim_argv(theirs.fileno()),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={}, cwd="/", start_new_session=True, pass_fds=(theirs.fileno(),),
                # The agent itself runs with umask 077; a task's files get the usual modes.
                umask=0o022,
            )  # fmt: skip
        except BaseException:
            # asyncio has already killed and reaped the supervisor if it got that far.
            ours.close()
            _remove_empty(cgroup)
            raise
        finally:
            theirs.close()
        try:
            reader, writer = await asyncio.open_connection(sock=ours)
        except BaseException:
            ours.close()
            transport.close()  # it has been told nothing yet: nothing of a task runs
            _remove_empty(cgroup)
            raise
        return _Shim(transport, proto, reader, writer, cgroup)

    async def _handshake(self, shim: _Shim) -> int:
        """Send the run's configuration; answers the shell's pid once it runs."""
        spec = self._spec
        config = self._jail.config(spec.command, spec.env, spec.cwd, self._grace_s, shim.cgroup)
        try:
            shim.writer.write(json.dumps(config).encode() + b"\n")
            await shim.writer.drain()
            answer = (await shim.reader.readline()).decode(errors="replace").rstrip("\n")
        except BaseException:
            await asyncio.shield(self._abandon(shim))
            raise
        if answer.startswith("S") and answer[1:].isdigit():
            return int(answer[1:])
        await self._abandon(shim)
        if answer.startswith("E"):
            raise RunError(answer[1:])
        raise OSError(answer[1:] or "the task supervisor failed to start")

    async def _abandon(self, shim: _Shim) -> None:
        """Let the supervisor go (it ends its task on EOF), then make sure it has."""
        shim.writer.close()
        if not await shim.exit_within(self._grace_s + _KILL_WAIT_S):
            log.warning("task supervisor %s did not exit; killing it", shim.transport.get_pid())
        shim.transport.close()  # kills it if it is still there
        if shim.cgroup is not None and self._jail.cgroups is not None:
            await self._jail.cgroups.remove(shim.cgroup)

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

    async def _supervise(self, shim: _Shim, pgid: int) -> RunResult:
        assert self._stop is not None
        exited = shim.proto.exited
        # A failing sink means nobody takes the output any more: stop the command.
        outputs = Outputs(shim.transport, shim.proto, self._sink, self._spec.output_cap,
                          on_failure=lambda: self._request("error"))  # fmt: skip
        shell = asyncio.ensure_future(self._listen(shim.reader))
        reason: Reason | None = None
        try:
            await asyncio.wait((shell, exited, self._stop), return_when=asyncio.FIRST_COMPLETED)
            if not shell.done() and not exited.done():
                reason = self._stop.result()
                shim.ask_end()
            if not await shim.exit_within(self._grace_s + _KILL_WAIT_S + 1):
                log.warning("the supervisor of task %d outlived its end; killing it", pgid)
                signal_group(pgid, signal.SIGKILL)
                shim.transport.kill()
                await exited
            await asyncio.wait((shell,), timeout=1)  # its last words may trail its exit
            # Only where the supervisor could not contain the task (no subreaper, killed).
            await end_group(pgid, exited, self._grace_s)
            if shim.cgroup is not None and self._jail.cgroups is not None:
                await self._jail.cgroups.remove(shim.cgroup)
            ended_at = time.time()
            self._group_gone.set()
            await outputs.drain(max(self._grace_s, _MIN_DRAIN_S))
        finally:
            if not self._group_gone.is_set():  # we were cancelled or failed mid-way
                shim.writer.close()  # on EOF the supervisor ends the task within a second
                with contextlib.suppress(BaseException):
                    await asyncio.shield(shim.exit_within(ORPHAN_GRACE_S + _KILL_WAIT_S))
                self._group_gone.set()
            if self._timer is not None:
                self._timer.cancel()
            shell.cancel()
            outputs.close()
            shim.writer.close()
            shim.transport.close()  # normally closed already; not if a pump stopped early
        outputs.raise_failure()
        rc = self._shell_rc if self._shell_rc is not None else shim.transport.get_returncode()
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

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        """Returns when the shell has exited (`X<rc>`) or the supervisor is gone (EOF)."""
        with contextlib.suppress(OSError, ValueError):
            while line := await reader.readline():
                if line.startswith(b"X"):
                    self._shell_rc = int(line[1:])
                    break
        self._shell_done = True


def _remove_empty(cgroup: Path | None) -> None:
    if cgroup is not None:
        with contextlib.suppress(OSError):
            cgroup.rmdir()


def _check(spec: RunSpec) -> None:
    items = [spec.command, spec.cwd or "", *(spec.env or {}), *(spec.env or {}).values()]
    if any("\0" in item for item in items):
        raise RunError("invalid command or environment: embedded null byte")
    if any(not key or "=" in key for key in spec.env or {}):
        raise RunError("invalid command or environment: bad variable name")
