"""Storage on one real agent: round trips, ranges, conflicts, bad input, crash safety."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from agent.storage.blocks import CHUNK_SIZE
from tests.harness import LiveAgent, agent_process, call, wait_until

MiB = 1024 * 1024


def pattern(size: int, seed: int = 7) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 32768  # 1 MiB, not all one byte
    return (block * (size // len(block) + 1))[:size]


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE - 7])
async def test_round_trip(live: LiveAgent, size: int) -> None:
    data = pattern(size)
    async with live.client(timeout=60) as client:
        up = await client.post(f"/api/storage/upload?path=f/{size}.bin", content=data)
        assert up.status_code == 201, up.text
        assert up.json()["size"] == size
        assert up.json()["sha256"] == hashlib.sha256(data).hexdigest()
        down = await client.get(f"/api/storage/f/{size}.bin")
    assert down.status_code == 200
    assert down.content == data
    assert down.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert int(down.headers["content-length"]) == size


async def test_100_mb_streams_both_ways(live: LiveAgent) -> None:
    size, piece = 100 * MiB, pattern(MiB)
    expected = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // MiB):
            expected.update(piece)
            yield piece

    async with live.client(timeout=300) as client:
        up = await client.post("/api/storage/upload?path=big/100mb.bin", content=body())
        assert up.status_code == 201, up.text
        got, received = hashlib.sha256(), 0
        async with client.stream("GET", "/api/storage/big/100mb.bin") as response:
            async for block in response.aiter_bytes():
                got.update(block)
                received += len(block)
    assert received == size
    assert got.hexdigest() == expected.hexdigest() == up.json()["sha256"]
    assert up.json()["chunks"] == 25


async def test_ranges(live: LiveAgent) -> None:
    data = pattern(2 * CHUNK_SIZE + 100)
    async with live.client(timeout=60) as client:
        await client.post("/api/storage/upload?path=r.bin", content=data)
        cases = {
            "bytes=0-9": data[:10],
            f"bytes={CHUNK_SIZE - 5}-{CHUNK_SIZE + 4}": data[CHUNK_SIZE - 5 : CHUNK_SIZE + 5],
            f"bytes={2 * CHUNK_SIZE}-": data[2 * CHUNK_SIZE :],
            "bytes=-50": data[-50:],
            f"bytes=10-{len(data) * 2}": data[10:],
        }
        for header, expected in cases.items():
            response = await client.get("/api/storage/r.bin", headers={"Range": header})
            assert response.status_code == 206, header
            assert response.content == expected, header
            assert response.headers["content-range"].endswith(f"/{len(data)}")
        for bad in (f"bytes={len(data)}-", "bytes=5-2", "bytes=abc", "bytes=-0"):
            response = await client.get("/api/storage/r.bin", headers={"Range": bad})
            assert response.status_code == 416, bad
            assert response.json()["error_code"] == "RANGE_NOT_SATISFIABLE"
            assert response.headers["content-range"] == f"bytes */{len(data)}"
        whole = await client.get("/api/storage/r.bin", headers={"Range": "bytes=0-1,5-6"})
        assert whole.status_code == 200
        etag = whole.headers["etag"]
        assert (
            await client.get("/api/storage/r.bin", headers={"If-None-Match": etag})
        ).status_code == 304


async def test_overwrite_conflict(live: LiveAgent) -> None:
    async with live.client() as client:
        assert (
            await client.post("/api/storage/upload?path=a.txt", content=b"one")
        ).status_code == 201
        again = await client.post("/api/storage/upload?path=a.txt", content=b"two")
        assert again.status_code == 409
        assert again.json()["error_code"] == "FILE_EXISTS"
        assert (await client.get("/api/storage/a.txt")).content == b"one"
        replaced = await client.post(
            "/api/storage/upload?path=a.txt&overwrite=true", content=b"two"
        )
        assert replaced.status_code == 201
        assert (await client.get("/api/storage/a.txt")).content == b"two"


async def test_multipart_upload_and_listing(live: LiveAgent) -> None:
    async with live.client() as client:
        up = await client.post("/api/storage/upload", files={"file": ("notes.txt", b"hi")})
        assert up.status_code == 201, up.text
        named = await client.post(
            "/api/storage/upload", files={"file": ("x", b"yo")}, data={"path": "docs/readme.md"}
        )
        assert named.json()["path"] == "docs/readme.md"
        await client.post("/api/storage/upload?path=docs2/other.md", content=b"z")
        listing = (await client.get("/api/storage")).json()
        assert [f["path"] for f in listing["files"]] == [
            "docs/readme.md",
            "docs2/other.md",
            "notes.txt",
        ]
        docs = (await client.get("/api/storage?prefix=docs")).json()
        assert [f["path"] for f in docs["files"]] == ["docs/readme.md"]
        assert docs["files"][0]["health"] == "healthy"


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "a/../../b", "/abs", "a/./b", "a\x00b", "x" * 2000, "a//", " "]
)
async def test_bad_paths_are_400_and_store_nothing(live: LiveAgent, path: str) -> None:
    async with live.client() as client:
        response = await client.post("/api/storage/upload", params={"path": path}, content=b"data")
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error_code"] in ("INVALID_PATH", "VALIDATION_ERROR")
        assert (await client.get("/api/storage")).json()["count"] == 0


async def test_missing_files_and_bad_requests(live: LiveAgent) -> None:
    async with live.client() as client:
        for method in ("GET", "DELETE"):
            response = await client.request(method, "/api/storage/nope.txt")
            assert response.status_code == 404
            assert response.json()["error_code"] == "FILE_NOT_FOUND"
        assert (await client.post("/api/storage/upload", content=b"x")).status_code == 400
        assert (
            await client.post("/api/storage/upload?overwrite=maybe&path=a", content=b"x")
        ).status_code == 400
        empty_form = await client.post(
            "/api/storage/upload", data={"path": "p"}, files={"other": ("f", b"1")}
        )
        assert empty_form.status_code == 400
        assert (await client.get("/api/storage?prefix=../x")).status_code == 400


async def test_delete_is_final(live: LiveAgent) -> None:
    async with live.client() as client:
        await client.post("/api/storage/upload?path=gone.txt", content=b"bye")
        assert (await client.delete("/api/storage/gone.txt")).json() == {
            "path": "gone.txt",
            "deleted": True,
        }
        assert (await client.get("/api/storage/gone.txt")).status_code == 404
        assert (await client.get("/api/storage")).json()["count"] == 0
        # A new upload to a deleted path is a new file, not a conflict.
        assert (
            await client.post("/api/storage/upload?path=gone.txt", content=b"new")
        ).status_code == 201


@pytest.mark.slow
def test_kill_during_upload_leaves_nothing_visible(tmp_path: Path) -> None:
    home = tmp_path / "node"
    sent = threading.Event()
    with agent_process(home) as agent:

        def slow_body() -> Iterator[bytes]:
            for index in range(40):
                if index == 3:
                    sent.set()
                yield pattern(MiB, seed=index)

        def upload() -> None:
            # The agent is killed mid-request, so the upload is expected to fail.
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(
                    f"{agent.url}/api/storage/upload?path=partial.bin",
                    content=slow_body(),
                    headers=agent.headers(),
                    timeout=30,
                )

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        assert sent.wait(10)
        wait_until(
            lambda: any((home / "storage" / "chunks").rglob("*")), 10, "some chunk data on disk"
        )
        agent.process.send_signal(signal.SIGKILL)
        agent.process.wait(10)
        uploader.join(10)
    with agent_process(home) as again:
        assert call(again, "GET", "/api/storage").json()["count"] == 0
        assert call(again, "GET", "/api/storage/partial.bin").status_code == 404
        tmp = home / "storage" / "chunks" / "tmp"
        assert not tmp.exists() or not os.listdir(tmp)
        assert call(again, "GET", "/api/health").json()["status"] != "unhealthy"
