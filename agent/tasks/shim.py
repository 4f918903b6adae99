"""The supervisor between the agent and one task: `python -I -S shim.py FD`.

It is a separate, tiny program (standard library only, nothing of the agent imported) because
it must outlive the agent by the moment it takes to end the task: a task must never keep
running once nobody follows it, or its retry elsewhere runs beside it.

- It makes itself a child subreaper (Linux), so every process the task starts, even one that
  calls `setsid` or double-forks, is reparented to it rather than to init: the task can not
  leave its subtree. When `waitpid` says it has no children left, nothing of the task is.
- Where the agent gave it a cgroup (v2), the shell joins it before it execs; ending the task
  then also kills the cgroup, which even processes that escaped the subtree cannot leave.
- FD is one end of a socket pair whose other end only the agent holds. The agent sends the
  run's configuration as one JSON line, then `T` to ask for the task to end. End of file
  means the agent is gone (exited or killed): the task is ended at once, with a short grace.
- It answers `S<pid>` once the shell has been exec'd, `E<message>` when the command itself
  cannot run (its cwd, the task account), `F<message>` when the node cannot (fork failed),
  and `X<returncode>` when the shell exits (a negative code is the signal that ended it).
- Ending a task is SIGTERM (and SIGCONT, so stopped processes see it) to every descendant,
  then SIGKILL to whatever is left after the grace period, repeated until none is left.
  The shell's exit ends the task too: background leftovers never outlive it.

The account switch (groups, gid, uid) happens in the shell's process only: the supervisor
keeps the agent's rights, so a task running as another user can neither signal nor trace it.
It runs with an empty environment, so nothing of the task's (LD_PRELOAD) applies to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import time
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
KILL_POLL_S = 0.05
ENDING_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def main(argv: list[str]) -> int:
    channel = int(argv[1])
    os.set_inheritable(channel, False)  # the agent passed it to us, not to the task
    config = _read_config(channel)
    if config is None:
        return 0  # the agent went away before it told us what to run
    contained = _become_subreaper()
    wake_read, wake_write = os.pipe()
    for fd in (wake_read, wake_write):
        os.set_blocking(fd, False)
    # Signals only wake the select loop; the bytes say which arrived.
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    for sig in (signal.SIGCHLD, *ENDING_SIGNALS):
        signal.signal(sig, lambda *_: None)
    error_read, error_write = os.pipe()  # close-on-exec: EOF without data means exec worked
    try:
        shell = os.fork()
    except OSError as exc:
        _send(channel, f"Fcannot fork: {exc.strerror}")
        return 1
    if shell == 0:
        _exec_shell(config, error_write)
    os.close(error_write)
    error = _read_all(error_read)
    if error:
        os.waitpid(shell, 0)
        _send(channel, "E" + error.decode(errors="replace"))
        return 127
    _send(channel, f"S{shell}")
    supervisor = Supervisor(channel, shell, wake_read, config, contained)
    return supervisor.run()


class Supervisor:
    def __init__(
        self, channel: int, shell: int, wake: int, config: dict[str, Any], contained: bool
    ) -> None:
        self.channel: int | None = channel
        self.shell = shell
        self.wake = wake
        self.grace = float(config["grace_s"])
        self.orphan_grace = float(config["orphan_grace_s"])
        self.cgroup: str | None = config.get("cgroup")
        self.contained = contained
        self.kill_at: float | None = None  # set once ending: when SIGKILL is due
        self.shell_reaped = False  # from then on its pid (and group id) may be reused

    def run(self) -> int:
        shell_rc: int | None = None
        while True:
            shell_exited = False
            while True:  # reap whatever has exited, the task's orphans included
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:  # no descendant is left
                    self._remove_cgroup()
                    return _exit_code(shell_rc)
                if pid == 0:
                    break
                if pid == self.shell:
                    shell_rc = os.waitstatus_to_exitcode(status)
                    shell_exited = self.shell_reaped = True
                    self._send(f"X{shell_rc}")
            if shell_exited:
                self._end(self.grace)
            killing = self.kill_at is not None and time.monotonic() >= self.kill_at
            if killing:
                self._signal_all(signal.SIGKILL)
            self._wait(KILL_POLL_S if killing else self._until_kill())

    def _until_kill(self) -> float | None:
        return None if self.kill_at is None else max(0.0, self.kill_at - time.monotonic())

    def _wait(self, timeout: float | None) -> None:
        readers = [self.wake] if self.channel is None else [self.wake, self.channel]
        ready, _, _ = select.select(readers, [], [], timeout)
        if self.wake in ready:
            with _suppress():
                if any(sig in ENDING_SIGNALS for sig in os.read(self.wake, 512)):
                    self._end(self.grace)
        if self.channel is not None and self.channel in ready:
            try:
                data = os.read(self.channel, 512)
            except OSError:
                data = b""
            if not data:  # the agent is gone: nobody follows the task any more
                os.close(self.channel)
                self.channel = None
                self._end(self.orphan_grace)
            elif b"T" in data:
                self._end(self.grace)

    def _end(self, grace: float) -> None:
        now = time.monotonic()
        if self.kill_at is None:
            self._signal_all(signal.SIGTERM)
            self._signal_all(signal.SIGCONT)
            self.kill_at = now + grace
        else:
            self.kill_at = min(self.kill_at, now + grace)

    def _signal_all(self, sig: int) -> None:
        if sig == signal.SIGKILL and self.cgroup:
            with _suppress():
                _write(os.path.join(self.cgroup, "cgroup.kill"), "1")
        if not self.shell_reaped:
            # The task's group at once, as killpg always did: the shell then ends by this
            # signal, not by seeing its child end first.
            with _suppress():
                os.killpg(self.shell, sig)
        # Only live descendants: their pids cannot be anyone else's. Parents go first, so
        # none is left running to react to its children's end.
        pids = _descendants(os.getpid()) if self.contained else []
        for pid in pids:
            with _suppress():
                os.kill(pid, sig)

    def _remove_cgroup(self) -> None:
        # The agent removes it too, but it may be gone; then nobody else tidies its base.
        if self.cgroup:
            with _suppress():
                os.rmdir(self.cgroup)
            if self.channel is None:
                with _suppress():
                    os.rmdir(os.path.dirname(self.cgroup))  # fails unless it is empty

    def _send(self, message: str) -> None:
        if self.channel is not None:
            _send(self.channel, message)


def _exec_shell(config: dict[str, Any], error_write: int) -> None:
    """In the forked child: join the cgroup, become the task account, exec the shell."""
    try:
        os.setpgid(0, 0)  # the task's own process group, its id the shell's pid, as before
        signal.set_wakeup_fd(-1)
        # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across exec.
        for sig in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ, *ENDING_SIGNALS):
            signal.signal(sig, signal.SIG_DFL)
        if config.get("cgroup"):
            with _suppress():  # without it the subreaper still contains the task
                _write(os.path.join(config["cgroup"], "cgroup.procs"), "0")
        if config.get("uid") is not None:
            try:
                os.setgroups(config["groups"])
                os.setgid(config["gid"])
                os.setuid(config["uid"])
            except OSError as exc:
                raise _Refused(f"cannot run as uid {config['uid']}: {exc.strerror}") from None
        _enter(config["cwd"])
        os.execve("/bin/sh", ["/bin/sh", "-c", config["command"]], config["env"])
    except _Refused as exc:
        os.write(error_write, str(exc).encode(errors="replace")[:4000])
    except BaseException as exc:
        os.write(error_write, f"cannot start the command: {exc}".encode(errors="replace")[:4000])
    finally:
        os._exit(127)


def _enter(candidates: list[str]) -> None:
    """chdir to the first candidate the account may enter; the last one's failure counts."""
    for index, path in enumerate(candidates):
        try:
            os.chdir(path)
            return
        except OSError as exc:
            if index == len(candidates) - 1:
                raise _Refused(f"cannot use cwd {path!r}: {exc.strerror}") from None


class _Refused(Exception):
    pass


def _suppress() -> contextlib.suppress:
    return contextlib.suppress(OSError, ValueError)


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):  # not Linux: the agent falls back on the process group
        return False


def _descendants(root: int) -> list[int]:
    """Every descendant of `root`, parents before their children."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if name.isdigit():
            with _suppress():
                with open(f"/proc/{name}/stat", "rb") as f:
                    fields = f.read().rpartition(b")")[2].split()  # comm may hold ")"
                children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _read_config(channel: int) -> dict[str, Any] | None:
    data = b""
    while b"\n" not in data:  # the agent writes nothing more before our answer
        chunk = os.read(channel, 1 << 16)
        if not chunk:
            return None
        data += chunk
    config: dict[str, Any] = json.loads(data.partition(b"\n")[0])
    return config


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    os.close(fd)
    return data


def _send(channel: int, message: str) -> None:
    line = message.replace("\n", " ").encode(errors="replace") + b"\n"
    with _suppress():  # the agent may be gone; ending the task does not need it
        os.write(channel, line)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _exit_code(shell_rc: int | None) -> int:
    if shell_rc is None:
        return 1
    return shell_rc if shell_rc >= 0 else 128 - shell_rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
