"""Shared-storage calls, mixed into `AgentClient`.

    async with AgentClient(*discover()) as client:
        stored = await client.storage_upload("docs/a.pdf", read_chunks(), size=size)
        async with client.storage_download("docs/a.pdf") as download:
            print(download.size, download.sha256)
            async for block in download.chunks():
                sink.write(block)

Uploads and downloads stream: neither side is ever held whole in memory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import httpx

from agent.client.errors import ClientError
from agent.client.transport import Transport
from agent.storage.models import StorageDeleted, StorageListing, StoredFile

# Between two blocks of a transfer the agent may be fetching a chunk from another node.
TRANSFER_READ_TIMEOUT = 60.0
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def storage_url(path: str) -> str:
    """`/api/storage/<path>` with every segment URL-quoted.

    `.` and `..` segments are sent percent-encoded, so no URL normalisation on the way can
    turn `../x` into another endpoint: the agent receives them literally and refuses them
    (INVALID_PATH).
    """
    if not path:
        raise ClientError("a storage path cannot be empty")
    segments = [quote(part, safe="") for part in path.split("/")]
    segments = [s.replace(".", "%2E") if s in (".", "..") else s for s in segments]
    return "/api/storage/" + "/".join(segments)


class Download:
    """An open download: what the agent said about the file, and its bytes via `chunks()`.

    `size` is the whole file's size and `sha256` its digest (the ETag); `offset` is where
    this response starts (0 unless a range was asked for and granted) and `length` how many
    bytes it carries. `received` counts what `chunks()` has yielded so far.
    """

    def __init__(self, path: str, response: httpx.Response) -> None:
        self.path = path
        self.status = response.status_code
        self.sha256 = _etag(response.headers.get("etag"))
        length = response.headers.get("content-length")
        self.length: int | None = int(length) if length and length.isdigit() else None
        found = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        self.offset: int
        self.size: int | None  # unknown when the agent sends no Content-Length
        if self.status == 206 and found:
            self.offset, self.size = int(found.group(1)), int(found.group(3))
        else:
            self.offset, self.size = 0, self.length
        self.received = 0
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes as they arrive; a transfer that breaks off raises `ClientError`."""
        try:
            async for block in self._response.aiter_bytes():
                self.received += len(block)
                yield block
        except httpx.TransportError as exc:
            raise ClientError(self._broke_off(str(exc) or type(exc).__name__)) from None
        if self.length is not None and self.received != self.length:
            raise ClientError(self._broke_off("the agent sent a different length"))

    async def aclose(self) -> None:
        await self._response.aclose()

    def _broke_off(self, reason: str) -> str:
        of = f" of {self.length}" if self.length is not None else ""
        return f"the download of {self.path} broke off after {self.received}{of} bytes: {reason}"


class StorageDownload:
    """What `storage_download` returns: `async with` it for a `Download` (size, sha256,
    `chunks()`), or iterate it directly for the bytes alone. Either way the connection is
    released when the block ends, the bytes run out, or `aclose()` is called."""

    def __init__(self, opener: Callable[[], Awaitable[Download]]) -> None:
        self._opener = opener
        self._download: Download | None = None
        self._blocks: AsyncIterator[bytes] | None = None
        self._closed = False

    async def __aenter__(self) -> Download:
        if self._download is not None or self._closed:
            raise RuntimeError("a storage download can be opened only once")
        self._download = await self._opener()
        return self._download

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> StorageDownload:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        if self._blocks is None:
            download = self._download or await self.__aenter__()
            self._blocks = download.chunks()
        try:
            return await anext(self._blocks)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        self._closed = True
        download, self._download, self._blocks = self._download, None, None
        if download is not None:
            await download.aclose()


class StorageMixin(Transport):
    async def storage_list(self, prefix: str = "") -> StorageListing:
        """Files in the shared storage, only those under `prefix` when given (INVALID_PATH)."""
        params = {"prefix": prefix} if prefix else {}
        response = await self._request("GET", "/api/storage", params=params)
        return self._model(response, StorageListing)

    async def storage_upload(
        self,
        path: str,
        source: AsyncIterable[bytes] | bytes,
        *,
        overwrite: bool = False,
        size: int | None = None,
    ) -> StoredFile:
        """Store `source` at `path`, streamed as it is read; returns the stored file.

        `size`, when known, is sent as Content-Length (else the body is chunked). Refusals:
        FILE_EXISTS (unless `overwrite`), INVALID_PATH, INSUFFICIENT_STORAGE. An exception
        raised by `source` ends the upload and propagates as it is.
        """
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None and not isinstance(source, bytes):
            headers["Content-Length"] = str(size)
            source = _sized(source, size, path)
        params = {"path": path, "overwrite": "true" if overwrite else "false"}
        request = self._http.build_request(
            "POST",
            "/api/storage/upload",
            params=params,
            content=source,
            headers=headers,
            timeout=self._transfer_timeout(),
        )
        response = await self._send(request, what=f"upload of {path}")
        return self._model(response, StoredFile)

    def storage_download(self, path: str, *, offset: int | None = None) -> StorageDownload:
        """The file at `path`, from byte `offset` on when given (a Range request).

        `async with client.storage_download(p) as download:` gives its size and sha256 before
        the bytes (`download.chunks()`); `async for block in client.storage_download(p)` just
        the bytes. Refusals arrive on opening: FILE_NOT_FOUND, INVALID_PATH, DATA_UNAVAILABLE,
        RANGE_NOT_SATISFIABLE (an offset at or past the end).
        """
        return StorageDownload(lambda: self._open_download(path, offset))

    async def storage_delete(self, path: str) -> StorageDeleted:
        """Delete the file everywhere (FILE_NOT_FOUND)."""
        return self._model(await self._request("DELETE", storage_url(path)), StorageDeleted)

    async def _open_download(self, path: str, offset: int | None) -> Download:
        headers = {"Accept": "*/*"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = self._http.build_request(
            "GET", storage_url(path), headers=headers, timeout=self._transfer_timeout()
        )
        return Download(path, await self._send(request, stream=True))

    def _transfer_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, read=max(self.timeout, TRANSFER_READ_TIMEOUT))


async def _sized(source: AsyncIterable[bytes], size: int, path: str) -> AsyncIterator[bytes]:
    """`source`, held to the Content-Length announced for it: HTTP/1.1 has no clean way to
    end a body of another length, so a source that grew or shrank meanwhile fails here."""
    sent = 0
    async for block in source:
        sent += len(block)
        if sent > size:
            raise ClientError(f"the upload of {path} failed: its source grew past {size} bytes")
        yield block
    if sent < size:
        raise ClientError(
            f"the upload of {path} failed: its source ended at {sent} of {size} bytes"
        )


def _etag(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None
