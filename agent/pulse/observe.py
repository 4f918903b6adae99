"""What Pulse reads of each member, taken defensively from what `ctx.cluster` shows.

Another member's telemetry is whatever its heartbeat claimed: a field of the wrong type or
out of range is left out (that reading is not evaluated), never an error, and lists are
bounded so a member claiming thousands of disks costs no more than a few dozen.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.core.cluster import ONLINE, MemberView

MAX_DISKS = 32
MAX_GPUS = 16
MAX_SUBJECT = 256
# The home's filesystem, when it is not one of the disks listed.
STORAGE_SUBJECT = "storage"


@dataclass(frozen=True, slots=True)
class DiskReading:
    subject: str
    percent: float
    free: float | None


@dataclass(frozen=True, slots=True)
class Observation:
    """One member at one evaluation."""

    node_id: str
    name: str
    online: bool
    offline: bool
    cpu_percent: float | None = None
    memory_percent: float | None = None
    disks: tuple[DiskReading, ...] = ()
    gpu_temperature: float | None = None
    llm_up: bool | None = None
    breakers_open: int | None = None
    storage_degraded: int | None = None
    brain_backlog: int | None = None
    storage_used: int | None = None
    storage_free: int | None = None


def number(value: Any, low: float = 0.0, high: float = 2.0**62) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def percent(value: Any) -> float | None:
    return number(value, 0.0, 100.0)


def _field(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, Mapping) else None


def disks_of(telemetry: Mapping[str, Any]) -> tuple[DiskReading, ...]:
    found: list[DiskReading] = []
    listed = telemetry.get("disks")
    for disk in listed[:MAX_DISKS] if isinstance(listed, list) else ():
        mount = _field(disk, "mountpoint")
        used = percent(_field(disk, "percent"))
        if not isinstance(mount, str) or not 0 < len(mount) <= MAX_SUBJECT or used is None:
            continue
        found.append(DiskReading(mount, used, number(_field(disk, "free"))))
    storage = telemetry.get("storage")
    total, used_bytes = number(_field(storage, "total")), number(_field(storage, "used"))
    if not total or used_bytes is None or used_bytes > total:
        return tuple(found)
    if not _home_is_listed(found, listed, _field(storage, "path"), total):
        share = round(used_bytes / total * 100, 1)
        found.append(DiskReading(STORAGE_SUBJECT, share, number(_field(storage, "free"))))
    return tuple(found)


def _home_is_listed(found: Sequence[DiskReading], listed: Any, path: Any, total: float) -> bool:
    """Whether a watched disk is the home's filesystem (a mount point above it, of the same
    size): the same filesystem is then not watched twice."""
    if not isinstance(path, str) or not isinstance(listed, list):
        return False
    watched = {d.subject for d in found}
    for disk in listed[:MAX_DISKS]:
        mount = _field(disk, "mountpoint")
        if mount not in watched or number(_field(disk, "total")) != total:
            continue
        assert isinstance(mount, str)
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            return True
    return False


def hottest_gpu(telemetry: Mapping[str, Any]) -> float | None:
    gpus = telemetry.get("gpus")
    readings = [
        number(_field(gpu, "temperature_c"), -100.0, 300.0)
        for gpu in (gpus[:MAX_GPUS] if isinstance(gpus, list) else ())
    ]
    known = [t for t in readings if t is not None]
    return max(known) if known else None


def observe(member: MemberView, judge_silence: bool = True) -> Observation:
    """`judge_silence` False: a member never heard from is not known to be offline yet (to
    a node that just started, or just learned of it, every member is), so it is not judged."""
    online = member.is_self or member.state == ONLINE
    offline = not member.is_self and member.state == "offline"
    if offline and member.last_seen is None and not judge_silence:
        return Observation(member.node_id, member.name, online=False, offline=False)
    if offline:
        # Its last claims are stale: the offline card speaks for it until it is back.
        return Observation(member.node_id, member.name, online, offline=True)
    caps = member.capabilities
    telemetry = member.telemetry if isinstance(member.telemetry, Mapping) else {}
    return Observation(
        member.node_id,
        member.name,
        online,
        offline=False,
        cpu_percent=percent(_field(telemetry.get("cpu"), "percent")),
        memory_percent=percent(_field(telemetry.get("memory"), "percent")),
        disks=disks_of(telemetry),
        gpu_temperature=hottest_gpu(telemetry),
        llm_up=None if caps.llm is None else bool(caps.llm.up),
        breakers_open=caps.breakers_open,
        storage_degraded=caps.storage_degraded,
        brain_backlog=caps.brain_backlog,
        storage_used=caps.storage_used,
        storage_free=caps.storage_free,
    )


def observe_all(members: Sequence[MemberView], too_new: Collection[str] = ()) -> list[Observation]:
    """`too_new`: members known too briefly to judge their silence."""
    return [observe(member, member.node_id not in too_new) for member in members]
