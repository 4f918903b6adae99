"""Garbage collection never takes a chunk an upload is writing or reusing.

The attack on the old code: an interrupted upload leaves chunks behind; once they are older
than the grace period, re-uploading the same content reuses them (no fresh write), and a
collection that runs before the manifest is saved deletes them. The file is then reported
healthy with copies that do not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.storage.blocks import CHUNK_SIZE
from agent.storage.pins import Pins
from tests.harness import LiveAgent, async_wait_until, live_agent, make_settings

GRACE = 0.1


def block(seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (CHUNK_SIZE // 32)


def chunk_file(home: Path, digest: str) -> Path:
    return home / "storage" / "chunks" / digest[:2] / digest


def older_than_grace(home: Path, digests: list[str]) -> bool:
    cutoff = time.time() - GRACE
    return all(chunk_file(home, d).stat().st_mtime < cutoff for d in digests)


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[LiveAgent]:
    async with live_agent(make_settings(tmp_path / "home", storage_gc_grace=GRACE)) as live:
        yield live


async def test_reused_chunks_survive_collection_during_the_upload(agent: LiveAgent) -> None:
    home = agent.settings.home
    storage = agent.server.config.app.state.subsystems["storage"]
    blocks = [block(i) for i in range(3)]
    digests = [hashlib.sha256(b).hexdigest() for b in blocks]

    async def interrupted() -> AsyncIterator[bytes]:
        yield blocks[0]
        yield blocks[1]
        await async_wait_until(
            lambda: all(chunk_file(home, d).exists() for d in digests[:2]), 10, "two chunks"
        )
        raise ConnectionAbortedError("the client goes away mid-upload")

    async with agent.client(timeout=30) as client:
        with pytest.raises(ConnectionAbortedError):
            await client.post("/api/storage/upload?path=big.bin", content=interrupted())
        await async_wait_until(lambda: storage.pins.count() == 0, 10, "the failed upload's pins")
        assert (await client.get("/api/storage")).json()["count"] == 0
        await async_wait_until(lambda: older_than_grace(home, digests[:2]), 10, "grace to pass")

        resume = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield blocks[0]
            yield blocks[1]
            await resume.wait()
            yield blocks[2]

        upload = asyncio.create_task(
            client.post("/api/storage/upload?path=big.bin", content=slow())
        )
        await async_wait_until(lambda: storage.pins.count() >= 2, 10, "the reused chunks pinned")
        # Reuse restarted their grace period; wait it out so only the pins protect them.
        await async_wait_until(lambda: older_than_grace(home, digests[:2]), 10, "grace to pass")
        removed = await storage.collector.collect()
        assert not set(removed) & set(digests)
        assert all(chunk_file(home, d).exists() for d in digests[:2])

        resume.set()
        response = await upload
        assert response.status_code == 201, response.text
        await storage.collector.collect()
        assert all(chunk_file(home, d).exists() for d in digests)
        listing = (await client.get("/api/storage")).json()["files"]
        assert [(f["path"], f["health"]) for f in listing] == [("big.bin", "healthy")]
        download = await client.get("/api/storage/big.bin")
        assert download.content == b"".join(blocks)


async def test_unreferenced_chunks_are_still_collected(agent: LiveAgent) -> None:
    """The pins must not keep garbage forever: once released and past the grace period, a
    chunk no manifest needs goes."""
    home = agent.settings.home
    storage = agent.server.config.app.state.subsystems["storage"]
    digest = hashlib.sha256(block(7)).hexdigest()
    async with agent.client(timeout=30) as client:
        await client.post("/api/storage/upload?path=gone.bin", content=block(7))
        await client.delete("/api/storage/gone.bin")
    await async_wait_until(lambda: older_than_grace(home, [digest]), 10, "grace to pass")
    removed = await storage.collector.collect()
    assert digest in removed
    assert not chunk_file(home, digest).exists()


def test_pins_cover_a_release_racing_the_manifest_read() -> None:
    now = [100.0]
    pins = Pins(ttl=5, clock=lambda: now[0])
    with pins.lease() as lease:
        lease.pin("a" * 64)
        with pins.collecting() as pinned:
            assert pinned("a" * 64)
        pins.forget_before(now[0])  # a collection reads the manifests here...
        now[0] += 1
    # ...and the upload saves its manifest and releases after that read: still pinned.
    with pins.collecting() as pinned:
        assert pinned("a" * 64)
    pins.forget_before(now[0] + 1)
    with pins.collecting() as pinned:
        assert not pinned("a" * 64)


def test_remote_pins_last_while_the_member_keeps_pushing() -> None:
    now = [0.0]
    pins = Pins(ttl=5, clock=lambda: now[0])
    pins.pin_remote("node", "b" * 64)
    for _ in range(4):
        now[0] += 4
        pins.pin_remote("node", "c" * 64)  # the same upload, still sending
        pins.forget_before(now[0])
        with pins.collecting() as pinned:
            assert pinned("b" * 64)
    now[0] += 6
    pins.forget_before(now[0])
    with pins.collecting() as pinned:
        assert not pinned("b" * 64)
    assert pins.count() == 0
