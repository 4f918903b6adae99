"""What the indexer has to do: a queue of paths to look at, and the scans waiting on them.

Watching and scanning only name paths; the indexer looks at each (a file to index, a folder
to walk, a path that is gone) when its turn comes. A path queued twice is looked at once.
A `Scan` is a reindex someone follows: it counts what became of each of its paths and is
done when the last of them has been looked at.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import anyio

from agent.brain.models import ReindexProgress


@dataclass(eq=False)
class Scan:
    started: float = field(default_factory=time.monotonic)
    walking: bool = True
    files_seen: int = 0
    files_done: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    skipped: int = 0
    removed: int = 0
    pending: set[str] = field(default_factory=set)
    finished: anyio.Event = field(default_factory=anyio.Event)

    @property
    def done(self) -> bool:
        return self.finished.is_set()

    def settle(self) -> None:
        if not self.walking and not self.pending:
            self.finished.set()

    async def follow(self, interval: float) -> AsyncIterator[ReindexProgress]:
        """The scan's progress every `interval` seconds, the last one done."""
        while True:
            progress = self.progress()
            yield progress
            if progress.done:
                return
            with anyio.move_on_after(interval):
                await self.finished.wait()

    def progress(self) -> ReindexProgress:
        elapsed = time.monotonic() - self.started
        return ReindexProgress(
            files_seen=self.files_seen,
            files_done=self.files_done,
            chunks_embedded=self.chunks_embedded,
            chunks_reused=self.chunks_reused,
            skipped=self.skipped,
            removed=self.removed,
            rate=round(self.chunks_embedded / elapsed, 2) if elapsed > 0 else 0.0,
            elapsed_s=round(elapsed, 3),
            done=self.done,
        )


class WorkQueue:
    def __init__(self) -> None:
        self._paths: OrderedDict[str, set[Scan]] = OrderedDict()
        self._wake = anyio.Event()

    def __len__(self) -> int:
        return len(self._paths)

    def put(self, path: str, scans: Iterable[Scan] = (), *, seen: bool = True) -> None:
        """Queue `path` for the indexer; each of `scans` waits for it, and counts it as a
        file seen when `seen` (a folder or a file gone is not one)."""
        waiting = self._paths.setdefault(path, set())
        for scan in scans:
            if path not in scan.pending:
                waiting.add(scan)
                scan.pending.add(path)
                scan.files_seen += 1 if seen else 0
        self._wake.set()

    def take(self, limit: int) -> list[tuple[str, set[Scan]]]:
        taken: list[tuple[str, set[Scan]]] = []
        while self._paths and len(taken) < limit:
            taken.append(self._paths.popitem(last=False))
        if not self._paths:
            self._wake = anyio.Event()
        return taken

    async def wait(self) -> None:
        await self._wake.wait()
