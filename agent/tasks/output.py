"""The pipes of a running command: its exit, and its output forwarded to a sink with a cap.

`RunProtocol` is asyncio's subprocess stream protocol (the transport level of a subprocess)
plus an `exited` event. On Python 3.11 `Process.wait()` returns only once the pipes have closed
as well, so a background child that holds stdout would keep it waiting; the runner needs the
shell's exit itself.

`Outputs` pumps stdout and stderr, each in its own task of the task group the runner's
supervision owns. A pump reads its pipe in chunks of up to `CHUNK_SIZE` bytes as they arrive
(it never waits for a newline) and hands each chunk to the sink, in order. Once `cap` bytes of
a stream have been delivered, the sink gets one `truncation_marker(cap)` chunk and nothing more
from that stream, but the pump keeps reading and discarding to EOF: a pipe nobody reads fills
up and blocks the writer, so the command would hang instead of finishing. Byte counts include
what was discarded.

A sink may be a plain function or return an awaitable; an awaitable is awaited before the
next read, so a slow sink slows the reader (and, through the pipe, the command) instead of
queueing output without bound. If the sink raises, that stream stops and `on_failure` runs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from asyncio.subprocess import SubprocessStreamProtocol
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc

OutputSink = Callable[[str, bytes], Awaitable[None] | None]
"""Receives `("stdout" | "stderr", chunk)`; may be sync or async."""

CHUNK_SIZE = 64 * 1024
_MIB = 1024 * 1024

log = logging.getLogger("openfabric.tasks")


def truncation_marker(cap: int) -> bytes:
    """The chunk a stream's sink gets, once, when the stream first goes past `cap` bytes."""
    size = f"{cap // _MIB} MiB" if cap and cap % _MIB == 0 else f"{cap} bytes"
    return f"\n[openfabric: output truncated at {size}]\n".encode()


class RunProtocol(SubprocessStreamProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=CHUNK_SIZE, loop=loop)
        self.exited = anyio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


class StreamPump:
    """Reads one stream to EOF, delivering at most `cap` bytes (plus the marker) to `sink`."""

    def __init__(
        self,
        stream: str,
        reader: asyncio.StreamReader,
        sink: OutputSink,
        cap: int,
        on_failure: Callable[[], None],
    ) -> None:
        self.stream = stream
        self.total = 0  # bytes read from the pipe, including discarded ones
        self.delivered = 0  # bytes of output handed to the sink (the marker not counted)
        self.truncated = False
        # True while blocked on the pipe (not on the sink): tells a pipe held open by an
        # escaped process apart from one whose sink is merely slow.
        self.waiting_for_data = False
        self.failure: Exception | None = None
        self.done = anyio.Event()
        self._reader = reader
        self._sink = sink
        self._cap = cap
        self._on_failure = on_failure

    async def run(self) -> None:
        try:
            await self._pump()
        except Exception as exc:  # the sink's: kept for the runner to raise, not the group
            self.failure = exc
            self._on_failure()
        finally:
            self.done.set()

    async def _pump(self) -> None:
        while True:
            self.waiting_for_data = True
            try:
                chunk = await self._reader.read(CHUNK_SIZE)
            finally:
                self.waiting_for_data = False
            if not chunk:
                return
            self.total += len(chunk)
            keep = chunk[: max(0, self._cap - self.delivered)]
            if keep:
                self.delivered += len(keep)
                await self._deliver(keep)
            if len(keep) < len(chunk) and not self.truncated:
                self.truncated = True
                await self._deliver(truncation_marker(self._cap))

    async def _deliver(self, chunk: bytes) -> None:
        result = self._sink(self.stream, chunk)
        if inspect.isawaitable(result):
            await result


class Outputs:
    """stdout and stderr of one process, each pumped to the sink by its own task."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: RunProtocol,
        sink: OutputSink,
        cap: int,
        on_failure: Callable[[], None],
    ) -> None:
        assert protocol.stdout is not None
        assert protocol.stderr is not None
        self._transport = transport
        self.stdout = StreamPump("stdout", protocol.stdout, sink, cap, on_failure)
        self.stderr = StreamPump("stderr", protocol.stderr, sink, cap, on_failure)

    def start(self, group: anyio.abc.TaskGroup) -> None:
        """Pump both pipes in `group`; cancelling the group stops them."""
        group.start_soon(self.stdout.run, name="tasks.output.stdout")
        group.start_soon(self.stderr.run, name="tasks.output.stderr")

    @property
    def truncated(self) -> bool:
        return self.stdout.truncated or self.stderr.truncated

    async def drain(self, window: float) -> None:
        """Wait for both pipes to reach EOF; give up on one that stays open and silent.

        The runner calls this once the command's process group is gone, so a pipe still open
        is held by a process that left the group (`setsid`). A pipe is given up only when its
        pump sat waiting for data through a whole window, so a slow sink with output still
        queued is never cut short.
        """
        pumps = {1: self.stdout, 2: self.stderr}
        while pending := {fd: p for fd, p in pumps.items() if not p.done.is_set()}:
            before = {fd: (p.waiting_for_data, p.total) for fd, p in pending.items()}
            with anyio.move_on_after(window):
                for pump in pending.values():
                    await pump.done.wait()
            for fd, pump in pending.items():
                idle = before[fd] == (True, pump.total) and pump.waiting_for_data
                pipe = self._transport.get_pipe_transport(fd)
                if not pump.done.is_set() and idle and pipe is not None:
                    log.warning("pid %s: %s held open outside its process group; giving up on it",
                                self._transport.get_pid(), pump.stream)  # fmt: skip
                    pipe.close()  # feeds EOF to the reader: what was read is still delivered

    def failure(self) -> Exception | None:
        """What the sink raised, if it did."""
        return self.stdout.failure or self.stderr.failure
