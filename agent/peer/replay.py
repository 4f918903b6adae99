"""Replay protection for signed peer requests, also across this node's restarts.

Within one process, every accepted nonce is remembered for twice the clock window. Across a
restart two rules together refuse every request the previous process accepted:

- A request signed before this process started is refused (`started_at`, checked by
  `signing.verify`). Nothing has to be stored for that, so it holds after a crash, a full
  disk or a restored backup. The previous process received each request it accepted before
  this one started, so a request signed no later than it was received is covered.
- The rest are requests signed *after* they were received: a caller whose clock is ahead of
  this node's (the window allows up to `SKEW` seconds). Their nonces are appended to a small
  journal before the request is acted on, and loaded again at start. An entry is useless as
  soon as its timestamp has passed (the first rule then covers it), so the journal only ever
  holds about a minute of future-dated requests and is rewritten when it grows.

Persisting every nonce instead would need a write per request (heartbeats: one per member per
second) and would still lose the last writes to a crash; the start-time rule loses nothing.
The cost is that for a few seconds after a restart a caller whose clock is behind has its
requests refused as stale; callers sign afresh on every attempt, so they recover at once.
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

SKEW = 60.0
COMPACT_AFTER = 4096


class NonceCache:
    """The receiver's replay state: its node id, when it started, the nonces it accepted."""

    def __init__(
        self,
        receiver: str,
        *,
        journal: Path | None = None,
        window: float = 2 * SKEW,
        limit: int = 200_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.receiver = receiver
        # Whole milliseconds, as callers sign: a request signed in the same millisecond as
        # this start is not refused. The previous process was gone long before that.
        self.started_at = math.floor(clock() * 1000) / 1000
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()
        # Nonces of future-dated requests (key -> signed time), mirrored in the journal.
        self._future: dict[str, float] = {}
        self._journal_path = journal
        self._appended = 0
        self._compact_at = COMPACT_AFTER
        if journal is not None:
            self._load(journal)
            self._rewrite(self.started_at)

    def check_and_add(self, key: str, now: float, sent_at: float | None = None) -> bool:
        """False when `key` was already seen. A key signed after `now` is journaled first
        (OSError when that fails: the caller must then refuse the request)."""
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.window and len(self._seen) < self.limit:
                break
            self._seen.pop(oldest_key)
        if key in self._seen:
            return False
        if sent_at is not None and sent_at > now and self._journal_path is not None:
            self._record(key, sent_at, now)
        self._seen[key] = now
        return True

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            stamp, _, key = line.partition(" ")
            try:
                sent_at = float(stamp)
            except ValueError:
                continue
            # Only entries signed after this start could pass the start-time rule.
            if key and sent_at >= self.started_at:
                self._future[key] = sent_at
                self._seen[key] = self.started_at

    def _record(self, key: str, sent_at: float, now: float) -> None:
        if self._appended >= self._compact_at:
            self._rewrite(now)
        assert self._journal_path is not None
        # Written through to the OS before the request is acted on, so a killed process keeps
        # it; no handle stays open (most requests never need one).
        with self._journal_path.open("a", encoding="utf-8") as journal:
            journal.write(f"{sent_at:.6f} {key}\n")
        self._future[key] = sent_at
        self._appended += 1

    def _rewrite(self, now: float) -> None:
        assert self._journal_path is not None
        self._future = {k: t for k, t in self._future.items() if t > now}
        tmp = self._journal_path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(f"{t:.6f} {k}\n" for k, t in self._future.items())
        os.replace(tmp, self._journal_path)
        self._appended = len(self._future)
        # Twice what is still live: rewrites cost linear time however many entries stay.
        self._compact_at = max(COMPACT_AFTER, 2 * self._appended)
