"""Re-blocking of byte streams into fixed-size chunks.

`split` and `asplit` turn pieces of any size (network reads, file reads) into chunks of exactly
`chunk_size` bytes, the last one shorter; an empty stream gives no chunks. Less than one chunk
is buffered between pieces; a piece that covers whole chunks is sliced without buffering.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

CHUNK_SIZE = 4 * 1024 * 1024


class _Reblocker:
    """Cuts incoming pieces into exact `size` chunks, buffering less than one chunk."""

    def __init__(self, size: int) -> None:
        if not isinstance(size, int) or size <= 0:
            raise ValueError(f"chunk_size must be a positive integer, not {size!r}")
        self._size = size
        self._buf = bytearray()

    def feed(self, piece: bytes) -> Iterator[bytes]:
        view = memoryview(piece).cast("B")
        size = self._size
        while view:
            if not self._buf and len(view) >= size:
                chunk, view = bytes(view[:size]), view[size:]
                yield chunk
                continue
            take = size - len(self._buf)
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == size:
                chunk = bytes(self._buf)
                self._buf.clear()
                yield chunk

    def flush(self) -> Iterator[bytes]:
        if self._buf:
            chunk = bytes(self._buf)
            self._buf.clear()
            yield chunk


def split(stream: Iterable[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Re-block `stream` into `chunk_size` chunks (the last may be shorter; none if empty)."""
    blocks = _Reblocker(chunk_size)
    for piece in stream:
        yield from blocks.feed(piece)
    yield from blocks.flush()


async def asplit(
    stream: AsyncIterable[bytes], chunk_size: int = CHUNK_SIZE
) -> AsyncIterator[bytes]:
    """`split` for an async stream (e.g. a request body)."""
    blocks = _Reblocker(chunk_size)
    async for piece in stream:
        for chunk in blocks.feed(piece):
            yield chunk
    for chunk in blocks.flush():
        yield chunk
