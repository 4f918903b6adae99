"""Chunks that garbage collection must leave alone although no saved manifest names them yet.

A chunk becomes referenced only when its file's manifest is saved, which for an upload is
after its last chunk is stored. Until then its chunks are pinned here:
- A local upload holds a `Lease`: each chunk is pinned before the store looks for it on disk
  (so a chunk it reuses cannot be deleted between that look and the manifest), and the lease
  is released once the manifest is saved or the upload fails.
- A chunk another member pushes here is pinned for that member; the pins stay while the
  member keeps pushing and lapse `ttl` seconds after its last push (its upload finished, so
  the manifest has arrived or never will). A member's pins are bounded; the oldest go first.

Garbage collection deletes a chunk only inside `collecting()`, under the same lock the pins
are taken with, so a pin and a deletion never interleave. A released lease, or a member's
lapsed pins, still count until the next collection's `forget_before(t)`, where `t` is taken
before that collection reads the saved manifests: a manifest saved just before a release is
then always in what it read. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MAX_REMOTE_PINS = 65_536


@dataclass
class _Remote:
    last_push: float
    digests: dict[str, None] = field(default_factory=dict)  # an ordered set


class Pins:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._local: Counter[str] = Counter()
        self._released: dict[str, float] = {}
        self._remote: dict[str, _Remote] = {}

    def now(self) -> float:
        return self._clock()

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        lease = Lease(self)
        try:
            yield lease
        finally:
            lease.release()

    def pin_remote(self, node_id: str, digest: str) -> None:
        with self._lock:
            now = self._clock()
            remote = self._remote.get(node_id)
            if remote is None or self._expired(remote, now):
                remote = self._remote[node_id] = _Remote(now)
            remote.last_push = now
            remote.digests.pop(digest, None)
            remote.digests[digest] = None
            while len(remote.digests) > MAX_REMOTE_PINS:
                del remote.digests[next(iter(remote.digests))]

    def forget_before(self, since: float) -> None:
        """Drop releases and lapsed pins older than `since`: a collection that read the saved
        manifests at `since` sees what those uploads saved."""
        with self._lock:
            self._released = {d: t for d, t in self._released.items() if t >= since}
            self._remote = {n: r for n, r in self._remote.items() if not self._expired(r, since)}

    @contextmanager
    def collecting(self) -> Iterator[Callable[[str], bool]]:
        """Hold the pin lock; the callable answers whether a digest is pinned (for a
        collection that called `forget_before` before reading the saved manifests)."""
        with self._lock:

            def pinned(digest: str) -> bool:
                return (
                    digest in self._local
                    or digest in self._released
                    or any(digest in r.digests for r in self._remote.values())
                )

            yield pinned

    def count(self) -> int:
        """Chunks pinned now (for the `storage_chunks_pinned` gauge)."""
        with self._lock:
            now = self._clock()
            live = [r for r in self._remote.values() if not self._expired(r, now)]
            return len({d for r in live for d in r.digests} | set(self._local))

    def _expired(self, remote: _Remote, at: float) -> bool:
        return at - remote.last_push > self.ttl

    def _add(self, digest: str) -> None:
        with self._lock:
            self._local[digest] += 1

    def _drop(self, digests: Counter[str]) -> None:
        with self._lock:
            now = self._clock()
            self._local.subtract(digests)
            for digest in digests:
                self._released[digest] = now
                if self._local[digest] <= 0:
                    del self._local[digest]


class Lease:
    """The chunks one upload has pinned."""

    def __init__(self, pins: Pins) -> None:
        self._pins = pins
        self._held: Counter[str] = Counter()
        self._released = False

    def pin(self, digest: str) -> None:
        if self._released:
            raise RuntimeError("this lease was released")
        self._pins._add(digest)
        self._held[digest] += 1

    @property
    def digests(self) -> set[str]:
        return set(self._held)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._pins._drop(self._held)
