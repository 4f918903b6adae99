"""Background jobs, grouped by the subsystem that owns them.

A job's owner is the part of its name before the first dot ("llm" for "llm.monitor"). At
shutdown an owner's jobs are cancelled and awaited before its `stop()` closes what they use
(HTTP clients, files), so a job never runs on a resource its owner has closed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

log = logging.getLogger("openfabric")


def owner_of(name: str) -> str:
    return name.partition(".")[0]


@dataclass(eq=False)
class _Job:
    name: str
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    ended: anyio.Event = field(default_factory=anyio.Event)


class Jobs:
    """The jobs of one lifespan: an owner whose jobs were cancelled stays stopped."""

    def __init__(self) -> None:
        self._running: dict[str, set[_Job]] = {}
        self._stopping: set[str] = set()

    def running(self, owner: str) -> list[str]:
        return sorted(job.name for job in self._running.get(owner, ()))

    def start(
        self, group: anyio.abc.TaskGroup, name: str, job: Callable[[], Awaitable[Any]]
    ) -> None:
        """Run `job` in `group`; a crash is logged, not fatal. Once the owner's jobs were
        cancelled, new ones are not started: the owner is stopping."""
        owner = owner_of(name)
        if owner in self._stopping:
            log.debug("background task %s not started: %s is stopping", name, owner)
            return
        # Registered before the task runs, so a cancel that comes first still reaches it.
        entry = _Job(name)
        jobs = self._running.setdefault(owner, set())
        jobs.add(entry)

        async def guarded() -> None:
            try:
                with entry.scope:
                    await job()
            except Exception:
                log.exception("background task %s failed", name)
            finally:
                jobs.discard(entry)
                entry.ended.set()

        group.start_soon(guarded, name=name)

    async def cancel(self, owner: str) -> None:
        """Cancel every job of `owner` and return once all of them have ended."""
        self._stopping.add(owner)
        jobs = list(self._running.get(owner, ()))
        for entry in jobs:
            entry.scope.cancel()
        for entry in jobs:
            await entry.ended.wait()
