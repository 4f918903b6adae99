import os
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.storage.chunks import (
    CHUNK_SIZE,
    asplit,
    split,
)

PROJECT = Path(__file__).resolve().parents[2]


# --- re-blocking -----------------------------------------------------------------------------


def pieces_of(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    pos = 0
    for size in sizes:
        yield data[pos : pos + size]
        pos += size
    if pos < len(data):
        yield data[pos:]


CASES = [
    # (total bytes, piece sizes, chunk size, expected chunk lengths)
    (0, [], 4, []),
    (0, [0, 0], 4, []),
    (1, [1], 4, [1]),
    (4, [4], 4, [4]),
    (8, [8], 4, [4, 4]),
    (12, [3, 3, 3, 3], 4, [4, 4, 4]),
    (10, [1, 2, 3, 4], 4, [4, 4, 2]),
    (11, [7, 0, 1, 3], 4, [4, 4, 3]),
    (9, [9], 4, [4, 4, 1]),
    (5, [1, 1, 1, 1, 1], 1, [1, 1, 1, 1, 1]),
    (3, [2, 1], 10, [3]),
]


@pytest.mark.parametrize(("total", "sizes", "chunk_size", "lengths"), CASES)
def test_split(total: int, sizes: list[int], chunk_size: int, lengths: list[int]) -> None:
    data = os.urandom(total)
    out = list(split(pieces_of(data, sizes), chunk_size))
    assert [len(c) for c in out] == lengths
    assert b"".join(out) == data
    assert all(type(c) is bytes for c in out)


@pytest.mark.parametrize(("total", "sizes", "chunk_size", "lengths"), CASES)
async def test_asplit(total: int, sizes: list[int], chunk_size: int, lengths: list[int]) -> None:
    data = os.urandom(total)

    async def stream() -> AsyncIterator[bytes]:
        for piece in pieces_of(data, sizes):
            yield piece

    out = [c async for c in asplit(stream(), chunk_size)]
    assert [len(c) for c in out] == lengths
    assert b"".join(out) == data


def test_split_random_pieces() -> None:
    rng = random.Random(7)
    for _ in range(200):
        data = rng.randbytes(rng.randint(0, 300))
        sizes = [rng.randint(0, 50) for _ in range(rng.randint(0, 20))]
        chunk_size = rng.randint(1, 40)
        out = list(split(pieces_of(data, sizes), chunk_size))
        assert b"".join(out) == data
        assert all(len(c) == chunk_size for c in out[:-1])
        assert not out or 0 < len(out[-1]) <= chunk_size


def test_split_default_size_and_reused_read_buffer() -> None:
    data = os.urandom(CHUNK_SIZE + 12345)
    buffer = bytearray(65536)

    def reads() -> Iterator[memoryview]:
        view = memoryview(data)
        while view:
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]  # the reader reuses one buffer for every read
            view = view[n:]
            yield memoryview(buffer)[:n]

    out = list(split(reads()))
    assert [len(c) for c in out] == [CHUNK_SIZE, 12345]
    assert b"".join(out) == data


@pytest.mark.parametrize("chunk_size", [0, -1])
def test_split_refuses_bad_chunk_size(chunk_size: int) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        list(split([b"abc"], chunk_size))
