"""The SDK's storage calls without an agent (httpx MockTransport), which also plays
transfers that break off halfway, since a real agent does not fail on cue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from agent.client import AgentClient, ApiError, ClientError, DeleteResult, StoredFile
from agent.client.storage import storage_url
from tests.client.conftest import BreakingStream, file_response, sha

DIGEST = sha(b"abcdef")
FILE = {
    "path": "a b/ü.bin",
    "size": 6,
    "sha256": DIGEST,
    "modified": 1700000000.0,
    "writer": "n1",
    "chunks": 1,
    "nodes": ["n1"],
    "health": "healthy",
}


class Recorder:
    """Answers every request with `answer(request)`, keeping the requests and their bodies."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(await request.aread())
        return self.answer(request)

    def client(self) -> AgentClient:
        return AgentClient("http://agent.test", "secret", transport=httpx.MockTransport(self))


def refusal(status: int, code: str) -> Callable[[httpx.Request], httpx.Response]:
    body = {"success": False, "error": "refused", "error_code": code, "details": {}}
    return lambda _: httpx.Response(status, json=body)


def test_storage_url_quotes_every_segment() -> None:
    assert storage_url("a b/ü.bin") == "/api/storage/a%20b/%C3%BC.bin"
    assert storage_url("x/../y/./z") == "/api/storage/x/%2E%2E/y/%2E/z"
    assert storage_url("q?#%") == "/api/storage/q%3F%23%25"
    with pytest.raises(ClientError, match="empty"):
        storage_url("")


async def test_list_sends_the_prefix() -> None:
    recorder = Recorder(lambda _: httpx.Response(200, json={"files": [FILE], "count": 1}))
    async with recorder.client() as client:
        listing = await client.storage_list()
        await client.storage_list("a b")
    assert listing.files == [StoredFile.model_validate(FILE)]
    assert listing.model_dump(mode="json") == {"files": [FILE], "count": 1}
    plain, prefixed = recorder.requests
    assert (plain.url.path, dict(plain.url.params)) == ("/api/storage", {})
    assert dict(prefixed.url.params) == {"prefix": "a b"}
    assert plain.headers["authorization"] == "Bearer secret"


async def test_upload_streams_a_raw_body() -> None:
    recorder = Recorder(lambda _: httpx.Response(201, json=FILE))
    pulled: list[int] = []

    async def blocks() -> AsyncIterator[bytes]:
        for index, block in enumerate((b"abc", b"def")):
            pulled.append(index)
            yield block

    async with recorder.client() as client:
        stored = await client.storage_upload("a b/ü.bin", blocks(), size=6)
        assert isinstance(stored, StoredFile)
        assert (stored.path, stored.health, stored.model_dump(mode="json")) == (
            "a b/ü.bin",
            "healthy",
            FILE,
        )
        await client.storage_upload("c", blocks(), overwrite=True)
        await client.storage_upload("d", b"whole")
    sized, chunked, whole = recorder.requests
    assert (sized.method, sized.url.path) == ("POST", "/api/storage/upload")
    assert dict(sized.url.params) == {"path": "a b/ü.bin", "overwrite": "false"}
    assert sized.headers["content-type"] == "application/octet-stream"
    assert sized.headers["content-length"] == "6"
    assert chunked.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in chunked.headers
    assert chunked.url.params["overwrite"] == "true"
    assert whole.headers["content-length"] == "5"
    assert recorder.bodies == [b"abcdef", b"abcdef", b"whole"]
    assert pulled == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("status", "code"),
    [(409, "FILE_EXISTS"), (400, "INVALID_PATH"), (507, "INSUFFICIENT_STORAGE")],
)
async def test_upload_refusals_are_api_errors(status: int, code: str) -> None:
    async with Recorder(refusal(status, code)).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.storage_upload("f", b"x")
    assert (caught.value.status, caught.value.code) == (status, code)


async def test_an_error_of_the_source_ends_the_upload() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"a"
        raise ClientError("cannot read f")

    async with Recorder(lambda _: httpx.Response(201, json=FILE)).client() as client:
        with pytest.raises(ClientError, match="cannot read f"):
            await client.storage_upload("f", failing())


async def test_download_quotes_the_path_and_reports_size_and_sha() -> None:
    recorder = Recorder(lambda _: file_response(b"abcdef", 6, DIGEST))
    async with recorder.client() as client:
        async with client.storage_download("a b/ü.bin") as download:
            assert (download.size, download.sha256, download.offset) == (6, DIGEST, 0)
            assert b"".join([block async for block in download.chunks()]) == b"abcdef"
            assert download.received == 6
        direct = [block async for block in client.storage_download("ü/../x y")]
    assert b"".join(direct) == b"abcdef"
    first, second = recorder.requests
    assert first.url.raw_path == b"/api/storage/a%20b/%C3%BC.bin"
    assert "range" not in first.headers
    assert second.url.raw_path == b"/api/storage/%C3%BC/%2E%2E/x%20y"


async def test_download_from_an_offset() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["range"] == "bytes=2-"
        headers = {"Content-Range": "bytes 2-5/6", "Content-Length": "4", "ETag": '"abc"'}
        return httpx.Response(206, headers=headers, content=b"cdef")

    async with (
        Recorder(answer).client() as client,
        client.storage_download("f", offset=2) as download,
    ):
        assert (download.status, download.offset, download.size) == (206, 2, 6)
        assert (download.length, download.sha256) == (4, "abc")
        assert [block async for block in download.chunks()] == [b"cdef"]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "FILE_NOT_FOUND"),
        (503, "DATA_UNAVAILABLE"),
        (400, "INVALID_PATH"),
        (416, "RANGE_NOT_SATISFIABLE"),
    ],
)
async def test_download_refusals_arrive_on_opening(status: int, code: str) -> None:
    async with Recorder(refusal(status, code)).client() as client:
        with pytest.raises(ApiError) as caught:
            async with client.storage_download("f"):
                pytest.fail("opened")
        with pytest.raises(ApiError):
            [block async for block in client.storage_download("f")]
    assert (caught.value.status, caught.value.code) == (status, code)


async def test_a_download_that_breaks_off_is_a_client_error() -> None:
    stream = BreakingStream(b"abc", httpx.ReadError("reset"))
    recorder = Recorder(lambda _: file_response(stream, 6, "x"))
    async with recorder.client() as client, client.storage_download("f") as download:
        with pytest.raises(ClientError, match="broke off after 3 of 6 bytes: reset"):
            [block async for block in download.chunks()]


async def test_delete_quotes_the_path() -> None:
    recorder = Recorder(lambda _: httpx.Response(200, json={"path": "a b", "deleted": True}))
    async with recorder.client() as client:
        deleted = await client.storage_delete("a b/é")
        assert deleted == DeleteResult(path="a b", deleted=True)
    (request,) = recorder.requests
    assert (request.method, request.url.raw_path) == ("DELETE", b"/api/storage/a%20b/%C3%A9")
    async with Recorder(refusal(404, "FILE_NOT_FOUND")).client() as client:
        with pytest.raises(ApiError, match="FILE_NOT_FOUND"):
            await client.storage_delete("f")


async def test_answers_from_a_newer_agent_keep_working() -> None:
    newer = {**FILE, "storage_class": "cold"}
    answer = Recorder(lambda _: httpx.Response(200, json={"files": [newer], "count": 1, "x": 1}))
    async with answer.client() as client:
        (stored,) = (await client.storage_list()).files
    assert stored.model_dump(mode="json") == FILE


@pytest.mark.parametrize(
    "body",
    [
        {"files": [{**FILE, "health": "fine"}], "count": 1},
        {"files": [{k: v for k, v in FILE.items() if k != "sha256"}], "count": 1},
        {"count": 0},
        [],
    ],
    ids=["unknown-health", "missing-field", "no-files", "not-an-object"],
)
async def test_an_answer_of_another_shape_is_invalid_response(body: object) -> None:
    async with Recorder(lambda _: httpx.Response(200, json=body)).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.storage_list()
    assert caught.value.code == "INVALID_RESPONSE"
    assert "StorageListing" in str(caught.value)
