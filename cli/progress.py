"""A one-line transfer meter on stderr: bytes done / total, percent and rate.

Drawn only for a person watching (stderr is a terminal and --quiet is not given); otherwise
every call is a no-op, so scripts and pipes see nothing of it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

from cli import output

REDRAW_INTERVAL = 0.1


def wanted(quiet: bool, stream: IO[str] | None = None) -> bool:
    """Whether to draw a meter: not --quiet, and `stream` (stderr) is a terminal."""
    if quiet:
        return False
    try:
        return (stream or sys.stderr).isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        enabled: bool,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.enabled = enabled
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._width = 0

    def update(self, count: int) -> None:
        self.done += count
        if not self.enabled:
            return
        now = self._clock()
        if self._drawn_at is None or now - self._drawn_at >= REDRAW_INTERVAL:
            self._draw(now)

    def close(self) -> None:
        """Draw the final state and end the line (kept on screen, also after a failure)."""
        if self.enabled:
            self._draw(self._clock())
            self._write("\n")
            self.enabled = False

    def line(self, now: float) -> str:
        done = output.size(self.done)
        parts = [self.label, done if self.total is None else f"{done} / {output.size(self.total)}"]
        if self.total:
            parts.append(f"{100 * self.done / self.total:3.0f}%")
        elapsed = now - self._started
        if elapsed > 0:
            parts.append(f"{output.size(self.done / elapsed)}/s")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        text = self.line(now)
        self._write("\r" + text.ljust(self._width))
        self._width, self._drawn_at = len(text), now

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(text)
        stream.flush()
