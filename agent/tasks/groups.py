"""Ending a task's process group: the fallback where its supervisor could not contain it.

On Linux the supervisor is a subreaper and the group is normally empty by the time it exits;
these helpers cover a platform without subreapers and a supervisor that was itself killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

import anyio

log = logging.getLogger("openfabric.tasks")

_KILL_WAIT_S = 2.0
_POLL_FIRST_S = 0.002
_POLL_MAX_S = 0.05


async def end_group(pgid: int, exited: anyio.Event, grace_s: float) -> None:
    """SIGTERM the group, then SIGKILL whatever is still in it after the grace period."""
    if not signal_group(pgid, signal.SIGTERM):
        return  # the usual case: the group is already empty
    deadline = anyio.current_time() + grace_s
    if not exited.is_set():  # the leader's exit is an event; only leftovers need polling
        with anyio.move_on_after(grace_s):
            await exited.wait()
    if await _group_gone_by(pgid, deadline):
        return
    log.info("process group %d outlived SIGTERM by %.1fs; sending SIGKILL", pgid, grace_s)
    signal_group(pgid, signal.SIGKILL)
    if not await _group_gone_by(pgid, anyio.current_time() + _KILL_WAIT_S):
        log.warning("process group %d still exists after SIGKILL", pgid)


def signal_group(pgid: int, sig: int) -> bool:
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
    # (they are reparented), so poll, backing off; this runs only on the fallback path.
    delay = _POLL_FIRST_S
    while group_alive(pgid):
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            return False
        await anyio.sleep(min(delay, remaining))
        delay = min(delay * 2, _POLL_MAX_S)
    return True


def group_alive(pgid: int) -> bool:
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
