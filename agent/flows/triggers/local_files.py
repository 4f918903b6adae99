"""`file: {path: glob}` triggers: changes in local folders, followed with watchfiles.

One watch covers the fixed folder of every armed glob (the part before its first wildcard).
Changes are handed over once the files have been quiet for a moment (bounded under a
constant stream), and each batch fires at most once per path and trigger, with the change
read from what is there now: a file written in a burst fires once. A folder that does not
exist yet is looked for every `RECHECK_S`, and the watch restarts when it appears.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import anyio.to_thread

from agent.flows.clock import Clock
from agent.flows.triggers.globs import matches
from agent.flows.triggers.model import Firing, TriggerKey

log = logging.getLogger("openfabric.flows")
RECHECK_S = 2.0
STEP_MS = 50
DEBOUNCE_MS = 400


@dataclass
class PathWatch:
    pattern: re.Pattern[str]
    root: str
    on: frozenset[str]
    spec: object


class LocalFiles:
    def __init__(self, clock: Clock, submit: Callable[[Firing], bool]) -> None:
        self._clock = clock
        self._submit = submit
        self._changed = asyncio.Event()
        self.watches: dict[TriggerKey, PathWatch] = {}
        self.watching: list[str] = []
        self.missing: list[str] = []

    def arm(self, wanted: Mapping[TriggerKey, PathWatch]) -> None:
        roots = self._roots()
        self.watches = dict(wanted)
        if self._roots() != roots:
            self._changed.set()

    def _roots(self) -> list[str]:
        return sorted({w.root for w in self.watches.values()})

    async def run(self) -> None:
        while True:
            self._changed.clear()
            wanted = self._roots()
            roots = await _existing(wanted)
            self.missing = [r for r in wanted if r not in roots]
            # The watch thread stops only when told (a cancelled wait would last until its
            # timeout), so it is told first, whichever way the wait ends.
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                if roots:
                    tg.start_soon(self._follow, roots, stop)
                try:
                    await self._until_changed(wanted, roots)
                finally:
                    stop.set()
                tg.cancel_scope.cancel()
            self.watching = []

    async def _until_changed(self, wanted: list[str], roots: list[str]) -> None:
        while True:
            if len(roots) == len(wanted):
                await self._changed.wait()
                return
            with anyio.move_on_after(RECHECK_S):
                await self._changed.wait()
                return
            if await _existing(wanted) != roots:
                return

    async def _follow(self, roots: list[str], stop: anyio.Event) -> None:
        from watchfiles import Change, awatch

        try:
            watcher = awatch(
                *roots,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                watch_filter=None,
                stop_event=stop,
                ignore_permission_denied=True,
                yield_on_timeout=False,
            )
            self.watching = roots
            async for batch in watcher:
                added = {path for change, path in batch if change == Change.added}
                self._fire(sorted({path for _, path in batch}), added)
        except (OSError, RuntimeError) as exc:
            log.warning("watching folders for file triggers failed (%s)", exc)
            self.watching = []

    def _fire(self, paths: list[str], added: set[str]) -> None:
        for path in paths:
            if os.path.isdir(path):
                continue
            stat = _stat(path)
            if stat is None:
                change, stamp = "deleted", f"{self._clock.now():.6f}"
            else:
                change, stamp = ("created" if path in added else "modified"), str(stat)
            for key, watch in self.watches.items():
                if change in watch.on and matches(watch.pattern, path):
                    payload = {"path": path, "change": change}
                    slot = f"{path}#{change}#{stamp}"
                    self._submit(Firing(key[0], key[1], "file", slot, self._clock.now(), payload))


async def _existing(folders: list[str]) -> list[str]:
    return await anyio.to_thread.run_sync(lambda: [f for f in folders if os.path.isdir(f)])


def _stat(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
