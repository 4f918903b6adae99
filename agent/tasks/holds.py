"""Short holds on nodes that just failed, lost or refused a dispatch.

Such a node gets no new dispatch for `HOLD_S`: the scheduler's passes skip it (and place
elsewhere when they can) instead of dispatching to it again in a tight loop, with every
attempt counted against its breaker. The breaker decides about the longer term. A node's hold
ends early once it completes a dispatch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

HOLD_S = 1.0


class NodeHolds:
    def __init__(self, hold_s: float = HOLD_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold_s = hold_s
        self._clock = clock
        self._until: dict[str, float] = {}

    def hold(self, node_id: str) -> None:
        self._until[node_id] = self._clock() + self.hold_s

    def release(self, node_id: str) -> None:
        self._until.pop(node_id, None)

    def held(self, node_id: str) -> bool:
        until = self._until.get(node_id)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[node_id]
            return False
        return True
