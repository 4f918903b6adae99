"""Who a task runs as, and the environment it starts with.

A task gets a clean environment: nothing of the agent's own (no `OPENFABRIC_*` variable, so
not the path of its home, its keys or its token), only a minimal base for the task account
plus the task's own `env` values. Its default working directory is that account's home, or
`/` where the home is missing or lies inside the agent's home.

`task_user` (empty: the agent's own account) names another account to run tasks as; the
agent must then be root, which it keeps for the task's supervisor only (see `shim`).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.settings import SettingsError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Locale and time zone only: they change how output is written, never what a task may reach.
_PASSED_ON = ("LANG", "LANGUAGE", "TZ")


@dataclass(frozen=True)
class TaskAccount:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    shell: str
    switch: bool  # False: the agent's own account, nothing to change in the child

    @classmethod
    def own(cls) -> TaskAccount:
        uid = os.geteuid()
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:  # an account without a passwd entry (some containers)
            return cls(str(uid), uid, os.getegid(), (), os.environ.get("HOME", "/"), "/bin/sh",
                       switch=False)  # fmt: skip
        return cls(entry.pw_name, uid, entry.pw_gid, (), entry.pw_dir, entry.pw_shell,
                   switch=False)  # fmt: skip


def resolve_account(task_user: str) -> TaskAccount:
    """The account named by the `task_user` setting; SettingsError when tasks cannot run as it."""
    own = TaskAccount.own()
    if not task_user:
        return own
    try:
        entry = pwd.getpwnam(task_user)
    except KeyError:
        raise SettingsError(f"task_user {task_user!r} is not an account on this machine") from None
    if entry.pw_uid == own.uid:
        return own
    if own.uid != 0:
        raise SettingsError(
            f"task_user {task_user!r} needs the agent to run as root "
            f"(it runs as {own.name}); leave task_user empty to run tasks as {own.name}"
        )
    if entry.pw_uid == 0:
        raise SettingsError(f"task_user {task_user!r} is root; leave task_user empty instead")
    return TaskAccount(
        name=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        groups=tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)),
        home=entry.pw_dir,
        shell=entry.pw_shell,
        switch=True,
    )


def task_environment(
    account: TaskAccount,
    extra: Mapping[str, str] | None,
    agent_home: Path | None,
    inherited: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The base environment for the account, then the task's own values over it."""
    env = {
        "PATH": _path(inherited.get("PATH") or DEFAULT_PATH, agent_home),
        "HOME": account.home,
        "USER": account.name,
        "LOGNAME": account.name,
        "SHELL": account.shell or "/bin/sh",
        "TERM": "dumb",  # no terminal: tools that ask get a plain answer
    }
    for key, value in inherited.items():
        if key in _PASSED_ON or key.startswith("LC_"):
            env[key] = value
    env.update(extra or {})
    return env


def default_cwd(account: TaskAccount, agent_home: Path | None) -> list[str]:
    """Where a task without a cwd starts: the account's home, else `/`."""
    home = account.home
    if home and os.path.isdir(home) and not _inside(home, agent_home):
        return [home, "/"]  # the home may still refuse the account (mode 0700 of another)
    return ["/"]


def _path(value: str, agent_home: Path | None) -> str:
    kept = [p for p in value.split(os.pathsep) if p and not _inside(p, agent_home)]
    return os.pathsep.join(kept) or DEFAULT_PATH


def _inside(path: str, agent_home: Path | None) -> bool:
    if agent_home is None:
        return False
    try:
        real, home = Path(path).resolve(), agent_home.resolve()
    except (OSError, RuntimeError):
        return False
    return real == home or home in real.parents
