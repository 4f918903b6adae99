"""`file: {storage: glob}` triggers: changes to shared-storage paths, from any member.

Uploads and deletes are published by the member that was asked, `storage.synced` by a member
whose files changed by replication; any of them (and arming a new trigger) makes one new
listing, compared per trigger with the last listing it saw. A trigger's first listing is its
baseline: what already exists when it is armed does not fire. A burst of events costs one
listing, not one per event.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from agent.flows.clock import Clock
from agent.flows.triggers.globs import matches
from agent.flows.triggers.model import Firing, TriggerKey

log = logging.getLogger("openfabric.flows")
STORAGE_TOPICS = ("storage.uploaded", "storage.deleted", "storage.synced")
MAX_WATCHED_PATHS = 100_000


@dataclass
class StorageWatch:
    pattern: re.Pattern[str]
    on: frozenset[str]
    spec: object
    seen: dict[str, str] | None = None


class SharedFiles:
    def __init__(
        self,
        clock: Clock,
        submit: Callable[[Firing], bool],
        list_storage: Callable[[], Awaitable[dict[str, str]]],
    ) -> None:
        self._clock = clock
        self._submit = submit
        self._list_storage = list_storage
        self._stale = asyncio.Event()
        self.watches: dict[TriggerKey, StorageWatch] = {}
        self.listings = 0

    def arm(self, wanted: Mapping[TriggerKey, StorageWatch]) -> None:
        kept = {k: w for k, w in self.watches.items() if k in wanted and wanted[k].spec == w.spec}
        self.watches = {k: kept.get(k, w) for k, w in wanted.items()}
        if len(kept) < len(self.watches):
            self._stale.set()

    def changed(self) -> None:
        """Storage changed somewhere: list it again (once, however many events came)."""
        if self.watches:
            self._stale.set()

    async def run(self) -> None:
        while True:
            await self._stale.wait()
            self._stale.clear()
            if not self.watches:
                continue
            try:
                listing = await self._list_storage()
            except Exception:
                log.exception("listing shared storage for file triggers failed")
                continue
            self.listings += 1
            for key, watch in list(self.watches.items()):
                self._compare(key, watch, listing)

    def _compare(self, key: TriggerKey, watch: StorageWatch, listing: dict[str, str]) -> None:
        now: dict[str, str] = {}
        for path, version in listing.items():
            if matches(watch.pattern, path) and len(now) < MAX_WATCHED_PATHS:
                now[path] = version
        before, watch.seen = watch.seen, now
        if before is None:
            return
        changes = [(p, "created", v) for p, v in now.items() if p not in before]
        changes += [(p, "modified", v) for p, v in now.items() if p in before and before[p] != v]
        changes += [(p, "deleted", v) for p, v in before.items() if p not in now]
        for path, change, version in sorted(changes):
            if change not in watch.on:
                continue
            payload = {
                "path": path,
                "change": change,
                "version": None if change == "deleted" else version,
            }
            slot = f"{path}#{change}#{version}"
            self._submit(Firing(key[0], key[1], "file", slot, self._clock.now(), payload))
