"""Content-addressed chunk store on local disk (`split`/`asplit` re-exported from `blocks`).

A chunk lives at `<root>/<first 2 hex>/<64 hex>`, named by the SHA-256 of its bytes, so
identical chunks are stored once. Contract:
- Every digest is validated (64 lowercase hex) before a path is built from it (`ValueError`).
- `put` checks the bytes against the digest before writing (`ChunkCorrupt`, nothing written)
  and the quota before writing (`QuotaExceeded`). It writes a uniquely named temporary file
  under `<root>/tmp`, fsyncs it, hard-links it into place (so of two concurrent puts of one
  digest exactly one publishes and counts it), then fsyncs the directory. A crash at any
  point leaves either no chunk or a whole one; `open` deletes leftover temporary files.
  Storing a chunk that is already here refreshes its modification time, from which garbage
  collection counts its grace period.
- `get` verifies what it reads; `verify` re-hashes on disk for scrubbing. A corrupt chunk is
  restored in place with `repair`, which atomically replaces it (no window where it is gone).
- Methods do blocking I/O and are thread-safe: call them via `anyio.to_thread.run_sync`.
  `used_bytes` is the sum of chunk file sizes (see `recount`); puts in flight reserve quota.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from agent.storage.blocks import CHUNK_SIZE, asplit, split

__all__ = [
    "CHUNK_SIZE",
    "ChunkCorrupt",
    "ChunkMissing",
    "ChunkStore",
    "QuotaExceeded",
    "asplit",
    "sha256_hex",
    "split",
    "validate_digest",
]

_DIGEST = re.compile(r"[0-9a-f]{64}")
_SHARD = re.compile(r"[0-9a-f]{2}")


class ChunkCorrupt(Exception):
    """Bytes do not hash to the digest that names them."""


class QuotaExceeded(Exception):
    """Storing the chunk would take this node past its byte quota."""


class ChunkMissing(Exception):
    """No chunk with that digest is stored here."""


def validate_digest(digest: object) -> str:
    """Return `digest` if it is 64 lowercase hex characters, else raise `ValueError`."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"invalid chunk digest {str(digest)[:80]!r}: expected 64 lowercase hex")
    return digest


def sha256_hex(data: bytes) -> str:
    """The chunk digest of `data`."""
    return hashlib.sha256(data).hexdigest()


class ChunkStore:
    """Chunks under `root` (`<home>/storage/chunks`), optionally limited to `quota_bytes`."""

    def __init__(self, root: Path, quota_bytes: int | None = None) -> None:
        if quota_bytes is not None and quota_bytes < 0:
            raise ValueError(f"quota_bytes must be >= 0, not {quota_bytes}")
        self._root = Path(root)
        self._tmp = self._root / "tmp"
        self._quota = quota_bytes
        self._lock = threading.Lock()
        self._used = 0
        self._reserved = 0
        self._count = 0
        self._opened = False
        self._temp_removed = 0

    def open(self) -> None:
        """Create directories, delete leftover temporary files (counted), tally chunks."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        removed = 0
        for entry in os.scandir(self._tmp):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)
            removed += 1
        self._temp_removed = removed
        self._opened = True
        self.recount()

    def recount(self) -> None:
        """Re-tally `used_bytes` and `count` from disk, pausing writers meanwhile.

        Each operation adjusts the tally by the change it makes on disk; changes made behind
        the store's back (a truncated or vanished file) show only after `open` or this, which
        the scrub calls after each pass.
        """
        self._require_open()
        with self._lock:
            used = count = 0
            for digest in self._scan():
                try:
                    used += self.path_of(digest).stat().st_size
                    count += 1
                except FileNotFoundError:
                    continue
            self._used, self._count = used, count

    @property
    def used_bytes(self) -> int:
        return self._used

    @property
    def quota_bytes(self) -> int | None:
        return self._quota

    @property
    def count(self) -> int:
        return self._count

    @property
    def temp_files_removed(self) -> int:
        """Leftover temporary files (or dirs) the last `open` deleted."""
        return self._temp_removed

    def path_of(self, digest: str) -> Path:
        """`<root>/<first 2 hex>/<digest>`; raises `ValueError` for an invalid digest."""
        validate_digest(digest)
        return self._root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        self._require_open()
        return self.path_of(digest).is_file()

    def put(self, digest: str, data: bytes) -> bool:
        """Store `data` under `digest`; True if newly stored, False if it was already here."""
        self._require_open()
        validate_digest(digest)
        if sha256_hex(data) != digest:
            raise ChunkCorrupt(f"data does not hash to {digest}")
        return self._store(digest, data, sync_dir=True)

    def add(
        self,
        data: bytes,
        *,
        sync_dir: bool = True,
        before_store: Callable[[str], None] | None = None,
    ) -> tuple[str, bool]:
        """Store `data` under its own digest, hashing it once; answers (digest, newly stored).

        With `sync_dir=False` the new name is not yet durable: call `sync_dirs` before relying
        on it (an upload does so once, before its manifest is saved, not once per chunk).
        `before_store(digest)` runs before the store looks for the chunk (an upload pins it
        there, so garbage collection cannot take a chunk it is about to reuse)."""
        self._require_open()
        digest = sha256_hex(data)
        if before_store is not None:
            before_store(digest)
        return digest, self._store(digest, data, sync_dir=sync_dir)

    def sync_dirs(self, digests: Iterable[str]) -> None:
        for shard in sorted({validate_digest(d)[:2] for d in digests}):
            _fsync_dir(self._root / shard)

    def _store(self, digest: str, data: bytes, *, sync_dir: bool) -> bool:
        final = self.path_of(digest)
        if self.touch(digest):
            return False
        size = len(data)
        with self._lock:
            if self._quota is not None and self._used + self._reserved + size > self._quota:
                raise QuotaExceeded(
                    f"storing {size} bytes would exceed the quota of {self._quota} bytes "
                    f"({self._used} used)"
                )
            self._reserved += size
        tmp: Path | None = None
        reserved = True
        try:
            tmp = self._write_temp(digest, data)
            with self._lock:
                # The reservation becomes use in the same step: were the two changes apart,
                # another put in between would count these bytes twice and be refused.
                published = _publish(tmp, final)
                self._reserved -= size
                reserved = False
                if not published:
                    return False
                self._used += size
                self._count += 1
        finally:
            if reserved:
                with self._lock:
                    self._reserved -= size
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        if sync_dir:
            _fsync_dir(final.parent)
        return True

    def repair(self, digest: str, data: bytes) -> None:
        """Atomically replace the chunk (corrupt, missing or fine) with verified `data`.

        The quota is not checked: repair restores data this node had already accepted.
        """
        self._require_open()
        final = self.path_of(digest)
        if sha256_hex(data) != digest:
            raise ChunkCorrupt(f"data does not hash to {digest}")
        tmp = self._write_temp(digest, data)
        try:
            with self._lock:
                try:
                    old_size = final.stat().st_size
                except FileNotFoundError:
                    old_size = None
                os.replace(tmp, final)
                self._used += len(data) - (old_size or 0)
                self._count += old_size is None
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(final.parent)

    def touch(self, digest: str) -> bool:
        """Restart the chunk's garbage-collection grace period; False if it is not here."""
        self._require_open()
        try:
            os.utime(self.path_of(digest))
        except FileNotFoundError:
            return False
        return True

    def get(self, digest: str) -> bytes:
        """The chunk's bytes, verified; raises `ChunkMissing` or `ChunkCorrupt`."""
        self._require_open()
        try:
            data = self.path_of(digest).read_bytes()
        except FileNotFoundError:
            raise ChunkMissing(digest) from None
        if sha256_hex(data) != digest:
            raise ChunkCorrupt(f"stored chunk {digest} is corrupt")
        return data

    def verify(self, digest: str) -> bool:
        """Re-hash the chunk on disk: False when corrupt; raises `ChunkMissing`."""
        self._require_open()
        try:
            with self.path_of(digest).open("rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest() == digest
        except FileNotFoundError:
            raise ChunkMissing(digest) from None

    def delete(self, digest: str) -> bool:
        """Remove the chunk; True if it was here."""
        self._require_open()
        path = self.path_of(digest)
        with self._lock:
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                return False
            self._used -= size
            self._count -= 1
        _fsync_dir(path.parent)
        return True

    def digests(self) -> Iterator[str]:
        """Every stored chunk's digest, shard by shard (for scrub and inventory)."""
        self._require_open()
        return self._scan()

    def _scan(self) -> Iterator[str]:
        for shard in sorted(os.listdir(self._root)):
            if not _SHARD.fullmatch(shard):
                continue
            try:
                names = sorted(os.listdir(self._root / shard))
            except (FileNotFoundError, NotADirectoryError):
                continue
            yield from (n for n in names if _DIGEST.fullmatch(n) and n.startswith(shard))

    def _write_temp(self, digest: str, data: bytes) -> Path:
        """Write and fsync `data` to a fresh temporary file; ensure its shard dir exists."""
        shard = self._root / digest[:2]
        if not shard.is_dir():
            shard.mkdir(exist_ok=True)
            _fsync_dir(self._root)
        fd, name = tempfile.mkstemp(prefix=f"{digest[:16]}.", suffix=".tmp", dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    def _require_open(self) -> None:
        if not self._opened:
            raise RuntimeError("ChunkStore.open() must be called first")


def _publish(tmp: Path, final: Path) -> bool:
    """Give `tmp`'s file the name `final` unless that exists; caller holds the store lock."""
    try:
        os.link(tmp, final)  # atomic create-if-absent, even across processes
    except FileExistsError:
        return False
    except OSError:  # no hard links here (FAT, some network mounts): the lock serialises us
        if final.exists():
            return False
        os.replace(tmp, final)
    return True


def _fsync_dir(path: Path) -> None:
    """Make a rename/link/unlink in `path` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
