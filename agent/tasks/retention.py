"""How long finished tasks are kept: `task_retention_days` and `task_retention_count`.

Applied when the agent starts and every `EVERY_S` after. Only finished tasks are deleted,
with their output; a queued, scheduled or running task (and one the scheduler holds in
memory between a loss and its retry) is never touched. Deletion goes in batches of
`BATCH` tasks, and their output in batches of `OUTPUT_BATCH` rows, so the single writer of
the database is never held for long.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

import anyio
import anyio.lowlevel

from agent.core.subsystem import Context
from agent.tasks.store import TaskStore

log = logging.getLogger("openfabric.tasks")

EVERY_S = 3600.0
BATCH = 200
OUTPUT_BATCH = 2000
DAY_S = 86400.0


class TaskRetention:
    def __init__(
        self, ctx: Context, store: TaskStore, in_memory: Callable[[], Collection[str]]
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.in_memory = in_memory  # ids the scheduler holds: not finished for good

    async def run(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:  # a failed pass is retried at the next one
                log.exception("pruning old tasks failed")
            await anyio.sleep(EVERY_S)

    async def prune(self) -> int:
        """Delete what the settings no longer keep; answers how many tasks went."""
        settings = self.ctx.settings
        removed = 0
        if settings.task_retention_days > 0:
            cutoff = self.ctx.clock() - settings.task_retention_days * DAY_S
            removed += await self._delete(lambda: self.store.finished_before(cutoff, BATCH))
        if settings.task_retention_count > 0:
            keep = settings.task_retention_count
            removed += await self._delete(lambda: self.store.finished_beyond(keep, BATCH))
        if removed:
            log.info("deleted %d finished task(s) past their retention", removed)
        return removed

    async def _delete(self, batch: Callable[[], Awaitable[list[str]]]) -> int:
        removed = 0
        while True:
            held = self.in_memory()
            ids = [task_id for task_id in await batch() if task_id not in held]
            if not ids:
                return removed
            removed += await self.store.delete_finished(ids, OUTPUT_BATCH)
            await anyio.lowlevel.checkpoint()
