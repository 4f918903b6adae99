"""The content-addressed chunk store: layout, corruption and repair, crash safety, digests."""

import hashlib
import os
import random
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import agent.storage.chunks as chunks_module
from agent.storage.chunks import (
    ChunkCorrupt,
    ChunkMissing,
    ChunkStore,
    sha256_hex,
    validate_digest,
)

PROJECT = Path(__file__).resolve().parents[2]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


# --- the store -------------------------------------------------------------------------------


def test_round_trip_and_layout(store: ChunkStore, root: Path) -> None:
    data = b"hello chunk"
    digest = sha256_hex(data)
    assert not store.has(digest)
    assert store.put(digest, data) is True
    assert store.has(digest)
    assert store.get(digest) == data
    assert store.verify(digest) is True
    assert store.path_of(digest) == root / digest[:2] / digest
    assert store.path_of(digest).read_bytes() == data
    assert (store.used_bytes, store.count) == (len(data), 1)
    assert list(store.digests()) == [digest]


def test_reopen_recounts(store: ChunkStore, root: Path) -> None:
    blobs = [os.urandom(n) for n in (1, 100, 5000)]
    for blob in blobs:
        store.put(sha256_hex(blob), blob)
    again = ChunkStore(root)
    again.open()
    assert again.used_bytes == sum(map(len, blobs))
    assert again.count == 3
    assert sorted(again.digests()) == sorted(sha256_hex(b) for b in blobs)
    assert again.temp_files_removed == 0


def test_identical_chunks_are_stored_once(store: ChunkStore, root: Path) -> None:
    data = b"x" * 1000
    digest = sha256_hex(data)
    assert store.put(digest, data) is True
    assert store.put(digest, data) is False
    assert (store.used_bytes, store.count) == (1000, 1)
    assert len(files_under(root)) == 1


def test_recount_matches_the_running_tally(store: ChunkStore) -> None:
    blobs = [os.urandom(n) for n in (10, 20, 30)]
    for blob in blobs:
        store.put(sha256_hex(blob), blob)
    store.delete(sha256_hex(blobs[0]))
    store.repair(sha256_hex(blobs[1]), blobs[1])
    tally = (store.used_bytes, store.count)
    store.recount()
    assert (store.used_bytes, store.count) == tally == (50, 2)
    store.path_of(sha256_hex(blobs[2])).unlink()  # vanished behind the store's back
    store.recount()
    assert (store.used_bytes, store.count) == (20, 1)


def test_empty_chunk(store: ChunkStore) -> None:
    digest = sha256_hex(b"")
    assert store.put(digest, b"") is True
    assert store.get(digest) == b""
    assert (store.used_bytes, store.count) == (0, 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "extend"])
def test_corruption_is_detected_and_repaired(store: ChunkStore, damage: str) -> None:
    data = os.urandom(4096)
    digest = sha256_hex(data)
    store.put(digest, data)
    path = store.path_of(digest)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[1234] ^= 0x01
    elif damage == "truncate":
        del raw[100:]
    else:
        raw += b"junk"
    path.write_bytes(bytes(raw))
    with pytest.raises(ChunkCorrupt):
        store.get(digest)
    assert store.verify(digest) is False
    assert store.has(digest)  # still there: the scrub decides what to do

    store.repair(digest, data)
    assert store.get(digest) == data
    assert store.verify(digest) is True
    store.recount()  # the damage changed the file's size behind the store's back
    assert (store.used_bytes, store.count) == (len(data), 1)


def test_repair_restores_a_missing_chunk_and_refuses_wrong_data(store: ChunkStore) -> None:
    data = b"restore me"
    digest = sha256_hex(data)
    with pytest.raises(ChunkCorrupt):
        store.repair(digest, b"something else")
    assert not store.has(digest)
    store.repair(digest, data)
    assert store.get(digest) == data
    assert (store.used_bytes, store.count) == (len(data), 1)


def test_put_with_the_wrong_digest_writes_nothing(store: ChunkStore, root: Path) -> None:
    digest = sha256_hex(b"what was promised")
    with pytest.raises(ChunkCorrupt):
        store.put(digest, b"what was sent")
    assert not store.has(digest)
    assert files_under(root) == []
    assert (store.used_bytes, store.count) == (0, 0)


def test_missing_chunks(store: ChunkStore) -> None:
    digest = sha256_hex(b"never stored")
    assert not store.has(digest)
    with pytest.raises(ChunkMissing):
        store.get(digest)
    with pytest.raises(ChunkMissing):
        store.verify(digest)
    assert store.delete(digest) is False


def test_delete(store: ChunkStore) -> None:
    data = b"short-lived"
    digest = sha256_hex(data)
    store.put(digest, data)
    assert store.delete(digest) is True
    assert store.delete(digest) is False
    assert not store.has(digest)
    assert (store.used_bytes, store.count) == (0, 0)
    assert list(store.digests()) == []


def test_constructor_does_no_io_and_methods_need_open(root: Path) -> None:
    store = ChunkStore(root)
    assert not root.exists()
    with pytest.raises(RuntimeError, match="open"):
        store.put(sha256_hex(b""), b"")
    with pytest.raises(RuntimeError, match="open"):
        store.has(sha256_hex(b""))


def test_open_cleans_leftover_temporary_files(store: ChunkStore, root: Path) -> None:
    data = os.urandom(3000)
    digest = sha256_hex(data)
    store.put(digest, data)
    half = os.urandom(2000)
    half_digest = sha256_hex(half + b"rest")
    (root / "tmp" / f"{half_digest[:16]}.abc.tmp").write_bytes(half)  # a put cut short
    (root / "tmp" / "junk").write_bytes(b"?")
    (root / "tmp" / "stray-dir").mkdir()
    (root / "tmp" / "stray-dir" / "f").write_bytes(b"?")

    # Before the restart the half-written file is invisible.
    assert not store.has(half_digest)
    with pytest.raises(ChunkMissing):
        store.get(half_digest)
    assert list(store.digests()) == [digest]

    again = ChunkStore(root)
    again.open()
    assert again.temp_files_removed == 3
    assert list((root / "tmp").iterdir()) == []
    assert (again.used_bytes, again.count) == (len(data), 1)
    assert again.get(digest) == data


def test_digests_ignores_foreign_files(store: ChunkStore, root: Path) -> None:
    data = b"real"
    digest = sha256_hex(data)
    store.put(digest, data)
    other = sha256_hex(b"other")
    (root / digest[:2] / "notes.txt").write_text("x")
    wrong_shard = "00" if other[:2] != "00" else "01"
    (root / wrong_shard).mkdir(exist_ok=True)
    (root / wrong_shard / other).write_bytes(b"other")
    (root / "zz").mkdir()
    (root / "zz" / other).write_bytes(b"other")
    (root / "ab.txt").write_text("x")
    assert list(store.digests()) == [digest]


@pytest.mark.parametrize("failing", ["fsync", "publish"])
def test_a_put_that_fails_midway_leaves_nothing_visible(
    store: ChunkStore, root: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    data = os.urandom(5000)
    digest = sha256_hex(data)
    store.put(sha256_hex(b"warm"), b"warm")  # the shard dir fsyncs are behind us

    def boom(*args: object) -> None:
        raise OSError("disk on fire")

    if failing == "fsync":
        monkeypatch.setattr(chunks_module.os, "fsync", boom)
    else:
        monkeypatch.setattr(chunks_module, "_publish", boom)
    with pytest.raises(OSError, match="disk on fire"):
        store.put(digest, data)
    monkeypatch.undo()
    assert not store.has(digest)
    assert list((root / "tmp").iterdir()) == []
    assert (store.used_bytes, store.count) == (4, 1)
    assert store.put(digest, data) is True  # no quota or state left reserved


def test_kill_9_during_puts_leaves_only_whole_chunks(root: Path) -> None:
    child = f"""
import os, sys
from pathlib import Path
from agent.storage.chunks import ChunkStore, sha256_hex
store = ChunkStore(Path({str(root)!r}))
store.open()
first = True
while True:
    data = os.urandom(256 * 1024)
    store.put(sha256_hex(data), data)
    if first:
        print("ready", flush=True)
        first = False
"""
    proc = subprocess.Popen(
        [sys.executable, "-c", child], cwd=PROJECT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        # Kill it without warning while a put is under way (a temporary file exists).
        while not any((root / "tmp").iterdir()) and proc.poll() is None:
            pass
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    store = ChunkStore(root)
    store.open()
    assert list((root / "tmp").iterdir()) == []
    digests = list(store.digests())
    assert len(digests) >= 1
    assert store.count == len(digests)
    assert store.used_bytes == len(digests) * 256 * 1024
    assert all(store.verify(d) for d in digests)


def test_concurrent_puts_of_one_digest(store: ChunkStore, root: Path) -> None:
    data = os.urandom(1024 * 1024)
    digest = sha256_hex(data)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: store.put(digest, data), range(64)))
    assert results.count(True) == 1
    assert (store.used_bytes, store.count) == (len(data), 1)
    assert files_under(root) == [store.path_of(digest)]
    assert store.get(digest) == data


def test_concurrent_puts_gets_and_deletes(store: ChunkStore) -> None:
    blobs = [os.urandom(random.Random(i).randint(0, 4096)) for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda b: store.put(sha256_hex(b), b), blobs))
        assert list(pool.map(lambda b: store.get(sha256_hex(b)), blobs)) == blobs
        assert all(pool.map(lambda b: store.delete(sha256_hex(b)), blobs[:100]))
    assert store.count == 100
    assert store.used_bytes == sum(map(len, blobs[100:]))
    assert sorted(store.digests()) == sorted(sha256_hex(b) for b in blobs[100:])


BAD_DIGESTS = [
    "../../etc/passwd",
    "../" * 21 + "a",
    "A" * 64,
    hashlib.sha256(b"x").hexdigest().upper(),
    "ab" * 31,
    "a" * 65,
    "g" * 64,
    "a" * 63 + "\n",
    "",
    None,
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_invalid_digests_are_refused(store: ChunkStore, root: Path, digest: object) -> None:
    for call in (
        store.has,
        store.get,
        store.verify,
        store.delete,
        store.path_of,
        lambda d: store.put(d, b"x"),
        lambda d: store.repair(d, b"x"),
    ):
        with pytest.raises(ValueError, match="invalid chunk digest"):
            call(digest)
    with pytest.raises(ValueError, match="invalid chunk digest"):
        validate_digest(digest)
    assert files_under(root.parent.parent) == []
