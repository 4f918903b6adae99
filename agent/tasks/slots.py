"""This node's task slots: one pool for its own tasks and other members' (remote) tasks."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import anyio


class Slots:
    """A semaphore that knows how many slots are taken, so the node can report it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._busy = 0
        self._semaphore = anyio.Semaphore(limit)
        # Told when the count changes (the scheduler reports it, and sleeps while nothing runs).
        self.on_change: Callable[[], None] | None = None

    @property
    def busy(self) -> int:
        return self._busy

    def _count(self, change: int) -> None:
        self._busy += change
        if self.on_change is not None:
            self.on_change()

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        self._count(1)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._count(-1)
        self._semaphore.release()

    async def try_take(self) -> bool:
        """Take a slot only if one is free now; release it with `give_back`."""
        try:
            self._semaphore.acquire_nowait()
        except anyio.WouldBlock:
            return False
        self._count(1)
        return True

    def give_back(self) -> None:
        self._count(-1)
        self._semaphore.release()
