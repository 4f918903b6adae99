"""Task output as it is produced: numbered chunks, batched to SQLite, fanned out to followers.

Each chunk gets the next sequence number of its task. Chunks are written in batches (every
`FLUSH_EVERY_S`, or sooner past `FLUSH_BYTES`) instead of one write per line, and a task's
last chunks are flushed before its final state is saved. A follower gets the stored chunks,
then the unflushed ones, then live ones, with no gap and no repeat: following and flushing take
the same per-task lock, and chunks are de-duplicated by sequence number. A follower that falls
`FOLLOWER_QUEUE` chunks behind is cut off; it resumes from the store by sequence number.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from agent.tasks.store import TaskStore

FLUSH_EVERY_S = 0.1
FLUSH_BYTES = 256 * 1024
FOLLOWER_QUEUE = 1024

Chunk = tuple[int, str, bytes]
END = (-1, "", b"")


class FollowerTooSlow(Exception):
    """The follower could not keep up; it should reconnect from its last sequence number."""


@dataclass
class _Follower:
    queue: asyncio.Queue[Chunk] = field(default_factory=lambda: asyncio.Queue(FOLLOWER_QUEUE))
    overflowed: bool = False


@dataclass
class _Live:
    next_seq: int
    pending: list[Chunk] = field(default_factory=list)
    pending_bytes: int = 0
    followers: list[_Follower] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    flusher: asyncio.TimerHandle | None = None


class TaskLogs:
    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self._live: dict[str, _Live] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def open(self, task_id: str) -> None:
        """Start collecting output for a task (a retried task continues its numbering)."""
        if task_id not in self._live:
            self._live[task_id] = _Live(next_seq=await self.store.last_seq(task_id) + 1)

    def write(self, task_id: str, stream: str, data: bytes) -> None:
        live = self._live.get(task_id)
        if live is None or not data:
            return
        chunk = (live.next_seq, stream, data)
        live.next_seq += 1
        live.pending.append(chunk)
        live.pending_bytes += len(data)
        for follower in live.followers:
            _offer(follower, chunk)
        if live.pending_bytes >= FLUSH_BYTES:
            self._flush_soon(task_id)
        elif live.flusher is None:
            live.flusher = asyncio.get_running_loop().call_later(
                FLUSH_EVERY_S, self._flush_soon, task_id
            )

    def _flush_soon(self, task_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self.flush(task_id))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def flush(self, task_id: str) -> None:
        live = self._live.get(task_id)
        if live is None:
            return
        async with live.lock:
            if live.flusher is not None:
                live.flusher.cancel()
                live.flusher = None
            chunks, live.pending, live.pending_bytes = live.pending, [], 0
            if chunks:
                await self.store.append_output(task_id, chunks)

    async def close(self, task_id: str) -> None:
        """Flush what is left and end every follower's stream.

        Done under the task's lock, like `follow`'s registration, so a follower either
        registers before the end (and receives it) or finds the output closed (and reads it
        all from the store)."""
        live = self._live.get(task_id)
        if live is None:
            return
        await self.flush(task_id)
        async with live.lock:
            self._live.pop(task_id, None)
            for follower in live.followers:
                _offer(follower, END)

    async def follow(self, task_id: str, after_seq: int = -1) -> AsyncIterator[Chunk]:
        """Chunks after `after_seq`: stored, then live until the task's output ends."""
        live = self._live.get(task_id)
        follower = _Follower()
        backlog: list[Chunk] | None = None
        if live is not None:
            async with live.lock:
                if self._live.get(task_id) is live:
                    live.followers.append(follower)
                    stored = await self.store.output(task_id, after_seq)
                    backlog = [*stored, *live.pending]
                else:
                    live = None  # closed while we waited for the lock
        if backlog is None:
            backlog = await self.store.output(task_id, after_seq)
        last = after_seq
        try:
            for chunk in backlog:
                if chunk[0] > last:
                    last = chunk[0]
                    yield chunk
            if live is None:
                return
            while True:
                chunk = await follower.queue.get()
                if chunk is END:
                    return
                if follower.overflowed and follower.queue.empty():
                    raise FollowerTooSlow(f"output follower fell behind after {last}")
                if chunk[0] > last:
                    last = chunk[0]
                    yield chunk
        finally:
            if live is not None and follower in live.followers:
                live.followers.remove(follower)

    async def drain(self) -> None:
        for task_id in list(self._live):
            await self.flush(task_id)
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)


def _offer(follower: _Follower, chunk: Chunk) -> None:
    try:
        follower.queue.put_nowait(chunk)
    except asyncio.QueueFull:
        follower.overflowed = True
