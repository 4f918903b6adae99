"""Helpers for the SDK tests: free ports, and answers a mock agent plays."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator

import httpx


def free_port() -> int:
    """A port nothing listens on: bound once by us, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BreakingStream(httpx.AsyncByteStream):
    """Sends `head`, then fails with `error`, as a connection lost mid-transfer does."""

    def __init__(self, head: bytes, error: BaseException) -> None:
        self.head, self.error = head, error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        raise self.error


def file_response(body: bytes | httpx.AsyncByteStream, size: int, digest: str) -> httpx.Response:
    headers = {"Content-Length": str(size), "ETag": f'"{digest}"', "Accept-Ranges": "bytes"}
    if isinstance(body, bytes):
        return httpx.Response(200, headers=headers, content=body)
    return httpx.Response(200, headers=headers, stream=body)
