"""The stamp of every fact version this node holds, in memory: the table digest members
compare (kept up to date change by change, never recomputed from the table), the count the
cap is checked against, and what a sync with another member must fetch or give."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from agent.memory.record import FactRecord, Stamp

_MASK = (1 << 128) - 1


def _mix(fact_id: str, modified: float, writer: str, deleted: bool) -> int:
    raw = f"{fact_id}\0{modified!r}\0{writer}\0{int(deleted)}".encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:16], "big")


class Ledger:
    """Order-free digest (XOR of each version's hash): two nodes holding the same versions
    agree on it however they came by them."""

    def __init__(self) -> None:
        self._stamps: dict[str, tuple[float, str, bool]] = {}
        self._xor = 0
        self.live = 0

    def load(self, rows: Iterable[tuple[str, float, str, bool]]) -> None:
        self._stamps.clear()
        self._xor = 0
        self.live = 0
        for fact_id, modified, writer, deleted in rows:
            self._set(fact_id, modified, writer, deleted)

    def _set(self, fact_id: str, modified: float, writer: str, deleted: bool) -> None:
        self.forget(fact_id)
        self._stamps[fact_id] = (modified, writer, deleted)
        self._xor ^= _mix(fact_id, modified, writer, deleted)
        self.live += 0 if deleted else 1

    def record(self, records: Iterable[FactRecord]) -> None:
        for r in records:
            self._set(r.id, r.modified, r.writer, r.deleted)

    def forget(self, fact_id: str) -> None:
        old = self._stamps.pop(fact_id, None)
        if old is not None:
            self._xor ^= _mix(fact_id, *old)
            self.live -= 0 if old[2] else 1

    def stamp(self, fact_id: str) -> Stamp | None:
        found = self._stamps.get(fact_id)
        return None if found is None else (found[0], found[1])

    def ids(self) -> list[str]:
        return list(self._stamps)

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def digest(self) -> str:
        return f"{len(self._stamps):x}-{self._xor & _MASK:032x}"
