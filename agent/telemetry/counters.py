"""Per-second rates from cumulative counters (disk I/O, network)."""

from __future__ import annotations


class RateTracker:
    """Per-second rates of named counter tuples against their previous reading.

    The first reading of a key gives 0.0 rates; a counter that went backwards (reset, wrap)
    gives 0.0 for that reading instead of a negative rate.
    """

    def __init__(self) -> None:
        self._previous: dict[str, tuple[float, tuple[int, ...]]] = {}

    def rates(self, key: str, now: float, values: tuple[int, ...]) -> tuple[float, ...]:
        previous = self._previous.get(key)
        self._previous[key] = (now, values)
        if previous is None or now <= previous[0] or len(previous[1]) != len(values):
            return (0.0,) * len(values)
        elapsed = now - previous[0]
        pairs = zip(values, previous[1], strict=True)
        return tuple(max(0, new - old) / elapsed for new, old in pairs)

    def retain(self, prefix: str, keys: set[str]) -> None:
        """Forget keys under `prefix` that are not in `keys`."""
        # interfaces come and go (containers, VPNs); without this the table only grows
        gone = [k for k in self._previous if k.startswith(prefix) and k not in keys]
        for key in gone:
            del self._previous[key]
