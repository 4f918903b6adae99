"""Task output as it is produced: numbered chunks, batched to SQLite, fanned out to followers.

Each chunk gets the next sequence number of its task. Chunks are written in batches (within
`FLUSH_EVERY_S` of the first one pending, or sooner past `FLUSH_BYTES`) by `run()`, instead of
one write per line, and a task's last chunks are flushed before its final state is saved. A
follower gets the stored chunks, then the unflushed ones, then live ones, with no gap and no
repeat: following and flushing take the same per-task lock, and chunks are de-duplicated by
sequence number. A follower that falls `FOLLOWER_QUEUE` chunks behind is cut off; it resumes
from the store by sequence number.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from agent.tasks.store import TaskStore

log = logging.getLogger("openfabric.tasks")

FLUSH_EVERY_S = 0.1
FLUSH_BYTES = 256 * 1024
FOLLOWER_QUEUE = 1024

Chunk = tuple[int, str, bytes]
END = (-1, "", b"")


class FollowerTooSlow(Exception):
    """The follower could not keep up; it should reconnect from its last sequence number."""


@dataclass
class _Follower:
    send: MemoryObjectSendStream[Chunk]
    receive: MemoryObjectReceiveStream[Chunk]
    overflowed: bool = False

    @classmethod
    def new(cls) -> _Follower:
        send, receive = anyio.create_memory_object_stream[Chunk](FOLLOWER_QUEUE)
        return cls(send, receive)


@dataclass
class _Live:
    next_seq: int
    pending: list[Chunk] = field(default_factory=list)
    pending_bytes: int = 0
    followers: list[_Follower] = field(default_factory=list)
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class TaskLogs:
    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self._live: dict[str, _Live] = {}
        self._pending = anyio.Event()  # some task has chunks to flush
        self._urgent = anyio.Event()  # some task has more than FLUSH_BYTES of them

    async def run(self) -> None:
        """Flush pending output in batches, until cancelled; `drain()` takes the rest."""
        while True:
            await self._pending.wait()
            with anyio.move_on_after(FLUSH_EVERY_S):
                await self._urgent.wait()
            self._pending, self._urgent = anyio.Event(), anyio.Event()
            for task_id in list(self._live):
                try:
                    await self.flush(task_id)
                except Exception:  # that batch is lost; later ones may still be written
                    log.exception("saving the output of task %s failed", task_id)

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
        self._pending.set()
        if live.pending_bytes >= FLUSH_BYTES:
            self._urgent.set()

    async def flush(self, task_id: str) -> None:
        live = self._live.get(task_id)
        if live is None:
            return
        async with live.lock:
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
        follower = _Follower.new()
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
                chunk = await follower.receive.receive()
                if chunk is END:
                    return
                if follower.overflowed and follower.receive.statistics().current_buffer_used == 0:
                    raise FollowerTooSlow(f"output follower fell behind after {last}")
                if chunk[0] > last:
                    last = chunk[0]
                    yield chunk
        finally:
            if live is not None and follower in live.followers:
                live.followers.remove(follower)
            follower.send.close()
            follower.receive.close()

    async def drain(self) -> None:
        for task_id in list(self._live):
            await self.flush(task_id)


def _offer(follower: _Follower, chunk: Chunk) -> None:
    try:
        follower.send.send_nowait(chunk)
    except anyio.WouldBlock:
        follower.overflowed = True
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass  # the follower has gone
