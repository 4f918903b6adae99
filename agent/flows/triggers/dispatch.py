"""Hands firings to the engine without letting a slow `fire` hold up any trigger.

Firings wait in one bounded queue; a fixed number of workers await `fire`. When the queue is
full a firing is dropped and counted: a burst can lose firings, never the node.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from agent.flows.triggers.model import Firing

log = logging.getLogger("openfabric.flows")
QUEUE_SIZE = 4096
WORKERS = 16


class Dispatcher:
    def __init__(self, fire: Callable[[Firing], Awaitable[None]]) -> None:
        self._fire = fire
        self._send: MemoryObjectSendStream[Firing]
        self._receive: MemoryObjectReceiveStream[Firing]
        self._send, self._receive = anyio.create_memory_object_stream[Firing](QUEUE_SIZE)
        self.submitted = 0
        self.dropped = 0
        self.fired = 0

    def submit(self, firing: Firing) -> bool:
        try:
            self._send.send_nowait(firing)
        except anyio.WouldBlock:
            self.dropped += 1
            if self.dropped in (1, 10) or self.dropped % 1000 == 0:
                log.warning("flow triggers: %d firings dropped (queue full)", self.dropped)
            return False
        self.submitted += 1
        return True

    @property
    def idle(self) -> bool:
        """Every firing handed over has been through `fire`."""
        return self.fired == self.submitted

    async def run(self) -> None:
        async with anyio.create_task_group() as workers:
            for _ in range(WORKERS):
                workers.start_soon(self._work)

    async def _work(self) -> None:
        while True:
            firing = await self._receive.receive()
            try:
                await self._fire(firing)
            except Exception:
                log.exception("starting flow %s from its trigger failed", firing.flow_id)
            self.fired += 1
