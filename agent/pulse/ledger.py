"""The hourly ledger behind the weekly digest, kept in memory and saved by `PulseStore`.

- Tasks: each member counts the tasks whose events its own bus carries, which are the tasks
  it owns (a task's events are published only on the node it was submitted to, wherever it
  ran), once each, when it ends; summed over members, every task is counted once.
- Tokens: each member counts the generations it was asked for (`llm.generated` is published
  once, on the node that answered the request), per model and the node that ran them.
- Uptime and storage: what this node saw of every member at each evaluation.

Everything is bounded: `KEPT_HOURS` of buckets, `MAX_KEYS` entries per bucket and kind.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.pulse.models import LedgerTasks, LedgerTokens, NodeUptime, PeerLedger, StorageGrowth
from agent.pulse.observe import MAX_SUBJECT, Observation, number

HOUR = 3600.0
KEPT_HOURS = 8 * 24
MAX_KEYS = 1024
COUNTED_IDS = 20_000
ENDED = {"succeeded", "failed", "timed_out", "lost", "cancelled"}
FAILED = {"failed", "timed_out", "lost"}
UNPLACED = ""  # tasks that ended before any node ran them: in the total only


def hour_of(at: float) -> float:
    return at - at % HOUR


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_SUBJECT else None


@dataclass
class Ledger:
    tasks: dict[tuple[float, str], list[int]] = field(default_factory=dict)
    tokens: dict[tuple[float, str, str], int] = field(default_factory=dict)
    uptime: dict[tuple[float, str], tuple[str, float, float]] = field(default_factory=dict)
    storage: dict[tuple[float, str], int] = field(default_factory=dict)
    dirty: set[tuple[str, tuple[Any, ...]]] = field(default_factory=set)
    counted: OrderedDict[str, None] = field(default_factory=OrderedDict)
    dropped: int = 0

    def _room(self, table: Mapping[Any, Any], key: tuple[Any, ...]) -> bool:
        if key in table or sum(1 for k in table if k[0] == key[0]) < MAX_KEYS:
            return True
        self.dropped += 1
        return False

    def record_task(self, data: Mapping[str, Any], now: float) -> bool:
        """Count a `task.<state>` event's task if it just ended (and was not counted)."""
        task_id, state = data.get("task_id"), data.get("state")
        if (
            not isinstance(task_id, str)
            or state not in ENDED
            or number(data.get("ended_at")) is None
        ):
            return False
        started = number(data.get("started_at")) is not None
        if (state == "cancelled" and not started) or task_id in self.counted:
            return False
        self.counted[task_id] = None
        if len(self.counted) > COUNTED_IDS:
            self.counted.popitem(last=False)
        node = data.get("node_id")
        key = (hour_of(now), _name(node) or UNPLACED)
        if not self._room(self.tasks, key):
            return False
        counts = self.tasks.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += state in FAILED
        self.dirty.add(("tasks", key))
        return True

    def record_generation(self, data: Mapping[str, Any], now: float) -> bool:
        model, node = _name(data.get("model")), _name(data.get("node_id"))
        tokens = data.get("completion_tokens")
        if model is None or node is None or isinstance(tokens, bool):
            return False
        if not isinstance(tokens, int) or not 0 <= tokens <= 2**40:
            return False
        key = (hour_of(now), model, node)
        if not self._room(self.tokens, key):
            return False
        self.tokens[key] = self.tokens.get(key, 0) + tokens
        self.dirty.add(("tokens", key))
        return True

    def observe(self, observations: Sequence[Observation], now: float, elapsed: float) -> None:
        hour = hour_of(now)
        for obs in observations:
            key = (hour, obs.node_id)
            if elapsed > 0 and self._room(self.uptime, key):
                _, seen, online = self.uptime.get(key, ("", 0.0, 0.0))
                online += elapsed if obs.online else 0.0
                self.uptime[key] = (obs.name, seen + elapsed, online)
                self.dirty.add(("uptime", key))
            if obs.storage_used is not None and not obs.offline and self._room(self.storage, key):
                self.storage[key] = obs.storage_used
                self.dirty.add(("storage", key))

    def prune(self, now: float) -> float:
        """Forget buckets older than `KEPT_HOURS`; answers the oldest hour kept."""
        oldest = hour_of(now) - (KEPT_HOURS - 1) * HOUR
        tables: tuple[dict[Any, Any], ...] = (self.tasks, self.tokens, self.uptime, self.storage)
        for table in tables:
            for key in [k for k in table if k[0] < oldest]:
                del table[key]
        self.dirty = {(kind, key) for kind, key in self.dirty if key[0] >= oldest}
        return oldest

    # -- sums over a period (the buckets that overlap it) --

    @staticmethod
    def _within(keys: Iterable[tuple[Any, ...]], since: float, until: float) -> list[Any]:
        return [k for k in keys if k[0] + HOUR > since and k[0] <= until]

    def summary(self, since: float, until: float) -> PeerLedger:
        tasks: dict[str, list[int]] = {}
        for key in self._within(self.tasks, since, until):
            counts = tasks.setdefault(key[1], [0, 0])
            counts[0] += self.tasks[key][0]
            counts[1] += self.tasks[key][1]
        tokens: dict[tuple[str, str], int] = {}
        for key in self._within(self.tokens, since, until):
            tokens[key[1:]] = tokens.get(key[1:], 0) + self.tokens[key]
        return PeerLedger(
            tasks=[
                LedgerTasks(node_id=node or None, run=run, failed=failed)
                for node, (run, failed) in sorted(tasks.items())
            ],
            tokens=[
                LedgerTokens(model=model, node_id=node, tokens=count)
                for (model, node), count in sorted(tokens.items())
            ],
        )

    def uptime_in(self, since: float, until: float) -> list[NodeUptime]:
        totals: dict[str, tuple[str, float, float]] = {}
        for key in sorted(self._within(self.uptime, since, until)):
            name, seen, online = self.uptime[key]
            _, seen_before, online_before = totals.get(key[1], (name, 0.0, 0.0))
            totals[key[1]] = (name, seen_before + seen, online_before + online)
        return [
            NodeUptime(
                node_id=node,
                node_name=name,
                online_s=round(online, 3),
                uptime_percent=round(online / seen * 100, 2) if seen else 0.0,
            )
            for node, (name, seen, online) in sorted(totals.items(), key=lambda i: i[1][0])
        ]

    def storage_in(self, since: float, until: float) -> StorageGrowth:
        hours = sorted({k[0] for k in self._within(self.storage, since, until)})
        if not hours:
            return StorageGrowth(start_bytes=0, end_bytes=0, growth_bytes=0)
        start = sum(used for (hour, _), used in self.storage.items() if hour == hours[0])
        end = sum(used for (hour, _), used in self.storage.items() if hour == hours[-1])
        return StorageGrowth(start_bytes=start, end_bytes=end, growth_bytes=end - start)
