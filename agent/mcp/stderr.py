"""A server's stderr, kept in a bounded ring of redacted lines.

The SDK's stdio client hands the server the write end of an `os.pipe` as its stderr; this
module reads the other end without blocking the event loop. Credential values are replaced by
`***` before a line is kept, so nothing that shows or logs the tail can leak them.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from typing import TextIO

import anyio

RING_LINES = 200
LINE_CHARS = 500
# A "line" longer than this without a newline is cut, so a server cannot grow the buffer.
MAX_PENDING = 64 * 1024
REDACTED = "***"


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class StderrRing:
    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.lines: deque[str] = deque(maxlen=RING_LINES)
        self._pending = ""

    def feed(self, text: str) -> None:
        parts = (self._pending + text).split("\n")
        self._pending = parts.pop()
        if len(self._pending) > MAX_PENDING:
            parts.append(self._pending)
            self._pending = ""
        for line in parts:
            self._keep(line)

    def flush(self) -> None:
        if self._pending:
            self._keep(self._pending)
            self._pending = ""

    def _keep(self, line: str) -> None:
        line = self.redact(line.rstrip("\r"))
        if line.strip():
            self.lines.append(line[:LINE_CHARS])

    def tail(self, count: int) -> list[str]:
        return list(self.lines)[-count:]

    def last_line(self) -> str | None:
        return self.lines[-1] if self.lines else None


class StderrPipe:
    """One start's pipe: `errlog` goes to the SDK (closed here once the child has it);
    `pump()` feeds the ring until every holder of the write end is gone."""

    def __init__(self, ring: StderrRing) -> None:
        self.ring = ring
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self.errlog: TextIO = os.fdopen(write_fd, "w", encoding="utf-8")
        self.ended = anyio.Event()

    def release_write_end(self) -> None:
        if not self.errlog.closed:
            self.errlog.close()

    async def pump(self) -> None:
        try:
            while True:
                await anyio.wait_readable(self._read_fd)
                try:
                    data = os.read(self._read_fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    break
                self.ring.feed(data.decode("utf-8", errors="replace"))
        finally:
            self.ring.flush()
            os.close(self._read_fd)
            self.ended.set()
