"""The chunk store's quota: exact under concurrency, and never counting a chunk twice."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.storage.chunks import (
    ChunkStore,
    QuotaExceeded,
    sha256_hex,
)
from tests.storage.test_chunks import files_under


def test_quota(root: Path) -> None:
    store = ChunkStore(root, quota_bytes=10)
    store.open()
    six, five, four = b"a" * 6, b"b" * 5, b"c" * 4
    assert store.quota_bytes == 10
    assert store.put(sha256_hex(six), six)
    with pytest.raises(QuotaExceeded, match="quota of 10 bytes"):
        store.put(sha256_hex(five), five)
    assert not store.has(sha256_hex(five))
    assert files_under(root / "tmp") == []
    assert store.put(sha256_hex(four), four)  # exactly fills it
    assert store.used_bytes == 10
    assert store.put(sha256_hex(six), six) is False  # already stored: costs nothing
    store.delete(sha256_hex(four))
    assert store.put(sha256_hex(b"d" * 4), b"d" * 4)


def test_quota_is_exact_under_concurrency(root: Path) -> None:
    store = ChunkStore(root, quota_bytes=1000)
    store.open()
    blobs = [bytes([i]) * 100 for i in range(20)]

    def put(blob: bytes) -> bool:
        try:
            return store.put(sha256_hex(blob), blob)
        except QuotaExceeded:
            return False

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(put, blobs))
    assert sum(results) == 10
    assert (store.used_bytes, store.count) == (1000, 10)
    assert sum(p.stat().st_size for p in files_under(root)) == 1000


class _LockThenProbe:
    """A lock that runs `probe` each time it is released: the probe sees exactly what any
    other thread could see at that moment."""

    def __init__(self, probe: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._probe = probe
        self._probing = False

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        if not self._probing:
            self._probing = True
            try:
                self._probe()
            finally:
                self._probing = False


def test_a_chunk_being_stored_is_never_counted_twice(root: Path) -> None:
    store = ChunkStore(root, quota_bytes=150)
    store.open()
    big, small = b"b" * 100, b"s" * 50
    refused_at: list[int] = []
    probes = 0

    def probe() -> None:
        # Whatever step the 100-byte put is at, 50 more bytes fit in the quota of 150.
        nonlocal probes
        probes += 1
        try:
            store.put(sha256_hex(small), small)
        except QuotaExceeded:
            refused_at.append(probes)
        else:
            store.delete(sha256_hex(small))

    store._lock = _LockThenProbe(probe)  # type: ignore[assignment]
    assert store.put(sha256_hex(big), big) is True
    assert probes >= 2  # after the reservation and after the publish
    assert refused_at == []
    store._lock = threading.Lock()  # type: ignore[assignment]
    assert (store.used_bytes, store.count) == (100, 1)
    assert store.put(sha256_hex(small), small) is True
    assert store.used_bytes == 150


def test_negative_quota_is_refused(root: Path) -> None:
    with pytest.raises(ValueError, match="quota_bytes"):
        ChunkStore(root, quota_bytes=-1)
