"""A log filter that stops one repeated message from flooding the console and the log files.

Under attack the same line can be logged thousands of times a second (every refused
connection, every failed accept); that fills the disk and rotates every useful line out of
the log backups. `RepeatFilter` lets through `limit` records per `interval` for each message
template (logger, level, unformatted message) and then counts the rest; when the interval is
over, the next record of that template is preceded by one line saying how many were
suppressed. A second, overall budget bounds templates that differ on every line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_TEMPLATES = 1000


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    def __init__(
        self,
        limit: int = 10,
        interval: float = 60.0,
        overall: int = 600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.interval = interval
        self.clock = clock
        self._windows: dict[tuple[str, int, str], _Window] = {}
        self._overall = _Window(clock())
        self._overall_limit = overall
        # One instance serves every handler: each record is decided once, not per handler.
        self._last: logging.LogRecord | None = None
        self._last_verdict = True

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._last:
            return self._last_verdict
        if getattr(record, "repeat_summary", False):
            return True
        verdict = self._decide(record)
        self._last, self._last_verdict = record, verdict
        return verdict

    def _decide(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        key = (record.name, record.levelno, str(record.msg))
        window = self._windows.get(key)
        if window is None or now - window.started >= self.interval:
            if window is not None and window.suppressed:
                self._summarise(record, window.suppressed, "similar messages")
            if len(self._windows) >= MAX_TEMPLATES:
                self._forget(now)
            window = self._windows[key] = _Window(now)
        if now - self._overall.started >= self.interval:
            if self._overall.suppressed:
                self._summarise(record, self._overall.suppressed, "messages (log rate limit)")
            self._overall = _Window(now)
        if window.passed >= self.limit:
            window.suppressed += 1
            return False
        if self._overall.passed >= self._overall_limit:
            self._overall.suppressed += 1
            return False
        window.passed += 1
        self._overall.passed += 1
        return True

    def _forget(self, now: float) -> None:
        expired = [k for k, w in self._windows.items() if now - w.started >= self.interval]
        for key in expired or list(self._windows)[: MAX_TEMPLATES // 2]:
            del self._windows[key]

    def _summarise(self, record: logging.LogRecord, count: int, what: str) -> None:
        summary = logging.LogRecord(
            record.name,
            record.levelno,
            record.pathname,
            record.lineno,
            "suppressed %d %s in the last %.0fs like: %s",
            (count, what, self.interval, str(record.msg)[:200]),
            None,
        )
        summary.repeat_summary = True
        # Through the logger, so it reaches every handler before the record that follows.
        logging.getLogger(record.name).handle(summary)
