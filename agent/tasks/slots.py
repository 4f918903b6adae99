"""This node's task slots: one pool for its own tasks and other members' (remote) tasks."""

from __future__ import annotations

from types import TracebackType

import anyio


class Slots:
    """A semaphore that knows how many slots are taken, so the node can report it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self._semaphore = anyio.Semaphore(limit)

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        self.busy += 1

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.busy -= 1
        self._semaphore.release()

    async def try_take(self) -> bool:
        """Take a slot only if one is free now; release it with `give_back`."""
        try:
            self._semaphore.acquire_nowait()
        except anyio.WouldBlock:
            return False
        self.busy += 1
        return True

    def give_back(self) -> None:
        self.busy -= 1
        self._semaphore.release()
