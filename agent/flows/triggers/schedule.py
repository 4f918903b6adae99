"""A time-based trigger's schedule: the times it fires at, as epoch seconds."""

from __future__ import annotations

from typing import Any, Protocol


class Schedule(Protocol):
    def next_after(self, when: float) -> float | None:
        """The first scheduled time strictly after `when` (None: never again)."""

    def latest_until(self, when: float) -> float | None:
        """The last scheduled time at or before `when` (None: none known)."""

    def slot(self, at: float) -> str:
        """The slot's name, the same on every member."""

    def payload(self, at: float, *, catch_up: bool) -> dict[str, Any]: ...
