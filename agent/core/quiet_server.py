"""uvicorn's server with a housekeeping tick once a second instead of ten times.

uvicorn wakes every 0.1 s to see whether it should exit and refreshes its Date header every
tenth wake; the agent runs two servers (local API and peer listener), so an idle agent woke
twenty times a second for that alone. Here the tick comes once a second (the Date header
keeps its one-second resolution) and setting `should_exit` wakes the loop at once, so a
signal still stops the server without waiting for the tick.
"""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

TICK_S = 1.0
# uvicorn's on_tick counts tenths of a second (it refreshes the Date header at multiples of 10).
TENTHS_PER_TICK = 10


class QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        self._exit_requested = False
        self._loop_of_tick: asyncio.AbstractEventLoop | None = None
        self._exit_wake: asyncio.Event | None = None
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        return self._exit_requested

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit_requested = value
        loop, wake = self._loop_of_tick, self._exit_wake
        if value and loop is not None and wake is not None:
            # Set from signal handlers and other threads too: only the self-pipe is safe there.
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._loop_of_tick = asyncio.get_running_loop()
        self._exit_wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + TENTHS_PER_TICK) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self._exit_wake.wait()
            should_exit = await self.on_tick(counter)
