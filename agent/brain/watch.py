"""Following the sources live with watchfiles (inotify on Linux).

Every change names a path for the indexer's queue; the indexer decides what it means (new or
modified file, folder moved in, something gone). A source that does not exist cannot be
watched: it is checked for every `RECHECK_S`, and the watch restarts when one appears or
disappears (and when the source list changes), queueing the new source for a walk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import anyio
import anyio.to_thread

from agent.brain.work import WorkQueue

log = logging.getLogger("openfabric.brain")
RECHECK_S = 2.0
# Changes are handed over once the files have been quiet for STEP_MS (bounded by
# DEBOUNCE_MS under a constant stream), well inside the 2 s a change may take to be found.
STEP_MS = 50
DEBOUNCE_MS = 400


async def _existing(paths: list[str]) -> list[str]:
    return await anyio.to_thread.run_sync(lambda: [p for p in paths if os.path.exists(p)])


class Watcher:
    def __init__(self, queue: WorkQueue, sources: Callable[[], list[str]]) -> None:
        self.queue = queue
        self.sources = sources
        self.watching = False
        self._changed = anyio.Event()

    def sources_changed(self) -> None:
        self._changed.set()

    async def run(self) -> None:
        watched: list[str] | None = None
        while True:
            roots = await _existing(self.sources())
            if watched is not None:
                for root in set(roots) - set(watched):
                    self.queue.put(root)
            watched = roots
            self._changed = anyio.Event()
            async with anyio.create_task_group() as tg:
                if roots:
                    tg.start_soon(self._follow, roots)
                await self._until_changed(roots)
                tg.cancel_scope.cancel()
            self.watching = False

    async def _follow(self, roots: list[str]) -> None:
        # Imported only when there is something to watch.
        from watchfiles import awatch

        self.watching = True
        try:
            async for changes in awatch(
                *roots,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                ignore_permission_denied=True,
            ):
                for _change, path in sorted(changes, key=lambda c: c[1]):
                    self.queue.put(path)
        except (OSError, RuntimeError) as exc:
            log.warning("watching the brain's sources failed (%s); retrying", exc)
        finally:
            self.watching = False

    async def _until_changed(self, roots: list[str]) -> None:
        while True:
            with anyio.move_on_after(RECHECK_S):
                await self._changed.wait()
                return
            if await _existing(self.sources()) != roots or (roots and not self.watching):
                return
