"""How long a crashed server waits before its next start: doubling from `first` to `cap`,
back to `first` once a run has stayed up `reset_after` seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 1.0
    cap: float = 60.0
    reset_after: float = 60.0

    def delay(self, restarts: int) -> float:
        """The wait before restart number `restarts` (1 for the first)."""
        return float(min(self.cap, self.first * 2 ** max(0, restarts - 1)))
