"""The supervisor process of one run (`agent.tasks.shim`), and the socket the runner talks to
it on: spawned in a new session with its stdout and stderr piped to the runner (the
subprocess transport is asyncio's), told the run's configuration, answered with the shell's
pid. Closing our end of the socket lets it go: it ends its task and exits (see
`agent.tasks.containment`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from agent.tasks.containment import TaskJail
from agent.tasks.output import RunProtocol

log = logging.getLogger("openfabric.tasks")

KILL_WAIT_S = 2.0  # SIGKILL cannot be refused; this only bounds a kernel that is slow to reap


class StartRefused(Exception):
    """The supervisor could not run the command for reasons of the command (e.g. its cwd)."""


@dataclass
class Supervisor:
    transport: asyncio.SubprocessTransport
    proto: RunProtocol
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    cgroup: Path | None

    @property
    def exited(self) -> anyio.Event:
        return self.proto.exited

    def ask_end(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.writer.write(b"T")

    async def exit_within(self, seconds: float) -> bool:
        with anyio.move_on_after(seconds):
            await self.exited.wait()
        return self.exited.is_set()

    async def handshake(self, config: dict[str, Any], jail: TaskJail, grace_s: float) -> int:
        """Send the run's configuration; answers the shell's pid once it runs."""
        try:
            self.writer.write(json.dumps(config).encode() + b"\n")
            await self.writer.drain()
            answer = (await self.reader.readline()).decode(errors="replace").rstrip("\n")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.abandon(jail, grace_s)
            raise
        if answer.startswith("S") and answer[1:].isdigit():
            return int(answer[1:])
        await self.abandon(jail, grace_s)
        if answer.startswith("E"):
            raise StartRefused(answer[1:])
        raise OSError(answer[1:] or "the task supervisor failed to start")

    async def abandon(self, jail: TaskJail, grace_s: float) -> None:
        """Let the supervisor go (it ends its task on EOF), then make sure it has."""
        self.writer.close()
        if not await self.exit_within(grace_s + KILL_WAIT_S):
            log.warning("task supervisor %s did not exit; killing it", self.transport.get_pid())
        self.transport.close()  # kills it if it is still there
        if self.cgroup is not None and jail.cgroups is not None:
            await jail.cgroups.remove(self.cgroup)


async def spawn(jail: TaskJail) -> Supervisor:
    loop = asyncio.get_running_loop()
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
    return Supervisor(transport, proto, reader, writer, cgroup)


def _remove_empty(cgroup: Path | None) -> None:
    if cgroup is not None:
        with contextlib.suppress(OSError):
            cgroup.rmdir()
