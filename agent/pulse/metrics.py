"""The metrics rules name: each turns an observation (and Pulse's own memory of earlier
ones) into readings. A metric has a native scope: per node, per node and subject (a disk),
or one value for the cluster; a member without the reading is simply not evaluated."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from agent.pulse.observe import Observation

Scope = Literal["node", "subject", "cluster"]
Reading = tuple[str | None, float]

# Free space is sampled for the trend at most this often, and this many samples are kept:
# a day of history, enough to see a steady fill without reacting to one large download.
TREND_SAMPLE_S = 300.0
TREND_SAMPLES = 288
# A trend needs this much history before it says anything.
TREND_MIN_SPAN_S = 3600.0
TREND_MIN_SAMPLES = 6
MAX_DAYS = 3650.0
DAY_S = 86400.0


class Memory:
    """What Pulse remembers between evaluations: free space over time per disk, and which
    nodes ever had their LLM backend up."""

    def __init__(self) -> None:
        self.free: dict[tuple[str, str], deque[tuple[float, float]]] = {}
        self.llm_seen_up: set[str] = set()
        # The trend changes only when a sample is added: (newest sample time, days) per disk.
        self._days: dict[tuple[str, str], tuple[float, float | None]] = {}

    def update(self, observations: Sequence[Observation], now: float) -> None:
        present = {o.node_id for o in observations}
        for key in [k for k in self.free if k[0] not in present]:
            del self.free[key]
            self._days.pop(key, None)
        self.llm_seen_up &= present
        for obs in observations:
            if obs.llm_up:
                self.llm_seen_up.add(obs.node_id)
            for disk in obs.disks:
                if disk.free is not None:
                    self._sample(obs.node_id, disk.subject, disk.free, now)

    def _sample(self, node_id: str, subject: str, free: float, now: float) -> None:
        ring = self.free.get((node_id, subject))
        if ring is None:
            ring = self.free[(node_id, subject)] = deque(maxlen=TREND_SAMPLES)
        if not ring or now - ring[-1][0] >= TREND_SAMPLE_S:
            ring.append((now, free))

    def days_left(self, node_id: str, subject: str) -> float | None:
        """Days until the disk is full at the rate free space fell over the ring (least
        squares); None while the history is short or free space is not falling."""
        key = (node_id, subject)
        ring = self.free.get(key)
        if ring is None or len(ring) < TREND_MIN_SAMPLES:
            return None
        cached = self._days.get(key)
        if cached is not None and cached[0] == ring[-1][0]:
            return cached[1]
        days = self._trend(ring)
        self._days[key] = (ring[-1][0], days)
        return days

    @staticmethod
    def _trend(ring: deque[tuple[float, float]]) -> float | None:
        if ring[-1][0] - ring[0][0] < TREND_MIN_SPAN_S:
            return None
        count = len(ring)
        mean_t = sum(t for t, _ in ring) / count
        mean_f = sum(f for _, f in ring) / count
        spread = sum((t - mean_t) ** 2 for t, _ in ring)
        slope = sum((t - mean_t) * (f - mean_f) for t, f in ring) / spread
        if slope >= 0:
            return None
        return min(MAX_DAYS, ring[-1][1] / -slope / DAY_S)


NodeMetric = Callable[[Observation, Memory], Iterable[Reading]]


def _one(value: float | None) -> list[Reading]:
    return [] if value is None else [(None, float(value))]


def _llm_down(obs: Observation, memory: Memory) -> list[Reading]:
    # A node that never had a backend up is not one whose backend went down.
    if obs.node_id not in memory.llm_seen_up:
        return []
    return [(None, 0.0 if obs.llm_up else 1.0)]


def _days_left(obs: Observation, memory: Memory) -> list[Reading]:
    found: list[Reading] = []
    for disk in obs.disks:
        days = memory.days_left(obs.node_id, disk.subject)
        if days is not None:
            found.append((disk.subject, round(days, 2)))
    return found


NODE_METRICS: dict[str, NodeMetric] = {
    "offline": lambda o, m: [(None, 1.0 if o.offline else 0.0)],
    "cpu_percent": lambda o, m: _one(o.cpu_percent),
    "memory_percent": lambda o, m: _one(o.memory_percent),
    "gpu_temperature": lambda o, m: _one(o.gpu_temperature),
    "disk_percent": lambda o, m: [(d.subject, d.percent) for d in o.disks],
    "disk_days_left": _days_left,
    "llm_down": _llm_down,
    "breakers_open": lambda o, m: _one(o.breakers_open),
    "brain_backlog": lambda o, m: _one(o.brain_backlog),
}


def _pool_percent(observations: Sequence[Observation]) -> float | None:
    used = free = 0
    for obs in observations:
        if not obs.offline and obs.storage_used is not None and obs.storage_free is not None:
            used += obs.storage_used
            free += obs.storage_free
    return None if used + free == 0 else round(used / (used + free) * 100, 1)


def _degraded_files(observations: Sequence[Observation]) -> float | None:
    # Every member judges the same replicated manifests: the cluster has one count (the
    # largest any online member reports), not one card per member.
    counts = [
        o.storage_degraded for o in observations if not o.offline and o.storage_degraded is not None
    ]
    return float(max(counts)) if counts else None


CLUSTER_METRICS: dict[str, Callable[[Sequence[Observation]], float | None]] = {
    "cluster_storage_percent": _pool_percent,
    "storage_degraded": _degraded_files,
}

METRIC_SCOPES: dict[str, Scope] = {
    **{name: "node" for name in NODE_METRICS},
    "disk_percent": "subject",
    "disk_days_left": "subject",
    **{name: "cluster" for name in CLUSTER_METRICS},
}
# How fine each scope is: a rule may gather a metric to a coarser scope, never a finer one.
SCOPE_RANK: dict[Scope, int] = {"subject": 0, "node": 1, "cluster": 2}
