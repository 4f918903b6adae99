"""Keeping every process of a task within reach, while the agent lives and after it dies.

Each run is started through a supervisor (`agent.tasks.shim`) that is a child subreaper, so
no descendant of the task can leave its subtree (`setsid` and double forks included), and
that ends the whole task when the agent asks, when the shell exits, and when the agent dies
(the socket to it reaches end of file: within `ORPHAN_GRACE_S`, before any retry elsewhere).

Where cgroup v2 is mounted and the agent may create cgroups below its own, each run also gets
one (`<agent cgroup>/openfabric-<tag>/run-<id>`): a task that kills its supervisor (it can,
when it runs as the agent's own account) is still ended through it, and what a killed
supervisor left behind is killed when the agent next starts (`sweep`). Without cgroups (no
cgroup2 mount, read-only, no delegation) the subreaper alone contains the task; without a
subreaper (not Linux) the runner falls back on the process group, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from agent.tasks.account import TaskAccount, default_cwd, task_environment

log = logging.getLogger("openfabric.tasks")

SHIM = Path(__file__).with_name("shim.py")
ORPHAN_GRACE_S = 1.0
_KILL_WAIT_S = 2.0
_RUN_PREFIX = "run-"


class TaskCgroups:
    """The cgroups of one agent's runs, all below `base`."""

    def __init__(self, base: Path) -> None:
        self.base = base

    @classmethod
    def detect(cls, tag: str) -> TaskCgroups | None:
        """Below the agent's own cgroup, if cgroup v2 lets it create one there."""
        own = _own_cgroup_dir()
        if own is None:
            return None
        cgroups = cls(own / f"openfabric-{tag}")
        try:
            probe = cgroups._make()
            probe.rmdir()
        except OSError as exc:
            log.info("no cgroup for tasks under %s (%s); containing them by subreaper", own, exc)
            return None
        finally:
            cgroups.close()
        return cgroups

    def create(self) -> Path | None:
        try:
            return self._make()
        except OSError as exc:
            log.warning("cannot create a cgroup under %s: %s", self.base, exc)
            return None

    def _make(self) -> Path:
        # The base exists only while runs do, so a dead agent leaves no empty cgroup behind.
        path = self.base / f"{_RUN_PREFIX}{secrets.token_hex(8)}"
        try:
            self.base.mkdir(exist_ok=True)
            path.mkdir()
        except FileNotFoundError:  # another run's end removed the base between the two
            self.base.mkdir(exist_ok=True)
            path.mkdir()
        return path

    async def remove(self, path: Path) -> bool:
        """Kill what is left in the run's cgroup and remove it; True if anything was left."""
        deadline = anyio.current_time() + _KILL_WAIT_S
        delay, found = 0.002, False
        while True:
            gone, had = _clear(path)
            if gone:
                self.close()
                return found
            found = found or had
            if anyio.current_time() > deadline:
                log.warning("cgroup %s still holds processes after SIGKILL", path)
                return found
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def sweep(self) -> int:
        """At start: end what runs of a previous life of this agent left (killed supervisors)."""
        left = 0
        with contextlib.suppress(OSError):
            for path in sorted(self.base.iterdir()):
                if path.is_dir() and path.name.startswith(_RUN_PREFIX):
                    left += await self.remove(path)
        self.close()
        if left:
            log.info("stopped leftover processes of %d task(s) from before the restart", left)
        return left

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.base.rmdir()  # only when empty: a run in flight keeps it


@dataclass
class TaskJail:
    """How runs are started on this node: the account, the agent's home, the cgroups."""

    account: TaskAccount = field(default_factory=TaskAccount.own)
    agent_home: Path | None = None
    cgroups: TaskCgroups | None = None

    def shim_argv(self, channel: int) -> list[str]:
        # -I -S: none of the environment, user site or site-packages shapes the supervisor.
        return [sys.executable, "-I", "-S", str(SHIM), str(channel)]

    def config(
        self,
        command: str,
        env: dict[str, str] | None,
        cwd: str | None,
        grace_s: float,
        cgroup: Path | None,
    ) -> dict[str, Any]:
        account = self.account
        return {
            "command": command,
            "env": task_environment(account, env, self.agent_home),
            "cwd": [cwd] if cwd is not None else default_cwd(account, self.agent_home),
            "uid": account.uid if account.switch else None,
            "gid": account.gid,
            "groups": list(account.groups),
            "grace_s": grace_s,
            "orphan_grace_s": min(grace_s, ORPHAN_GRACE_S),
            "cgroup": str(cgroup) if cgroup is not None else None,
        }


def _own_cgroup_dir() -> Path | None:
    """The agent's cgroup v2 directory, from /proc/self/cgroup and the cgroup2 mount."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    own = next((line[3:] for line in lines if line.startswith("0::")), None)
    # Outside our cgroup namespace ("/.."), or removed: nowhere to create ours.
    if own is None or own.endswith("(deleted)") or ".." in own.split("/"):
        return None
    for line in mounts:
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if rest.split()[:1] == ["cgroup2"] and len(parts) >= 5:
            root, point = _unescape(parts[3]), _unescape(parts[4])
            if own == root or own.startswith(root.rstrip("/") + "/"):
                return Path(point) / own[len(root.rstrip("/")) :].lstrip("/")
    return None


def _unescape(text: str) -> str:
    # mountinfo writes spaces and such as octal escapes (\040).
    return text.encode().decode("unicode_escape") if "\\" in text else text


def _procs(path: Path) -> list[int]:
    try:
        return [int(line) for line in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _clear(path: Path) -> tuple[bool, bool]:
    """One step of removing a run's cgroup: (removed, had processes to kill)."""
    if _procs(path):
        _kill(path)
        return False, True
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError:  # still marked populated for a moment after the last exit
        return False, False
    return True, False


def _kill(path: Path) -> None:
    try:
        (path / "cgroup.kill").write_text("1")  # Linux 5.14+: atomic, fork bombs included
        return
    except OSError:
        pass
    for pid in _procs(path):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
