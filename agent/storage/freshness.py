"""Whether this node's manifests are current enough to answer reads from.

A node that was down, cut off from every member or frozen (suspended) missed the manifests
pushed meanwhile: a file deleted elsewhere would still be listed and served here until the
next sync pass. So such a node is syncing until it has pulled the tables (tombstones
included) of the members it can reach, and reads wait for that pull (`current`). The pull is
bounded by `timeout`; a lone node, or one that reaches no member, is current at once and
answers from what it has.

A node is syncing when it starts (it then asks every member, as none is known online yet),
and again when a member is online after this node looked and saw none online (or no member:
it has just joined), or did not look for QUIET_LIMIT_S (it then asks those online). Looks
are taken on every read and every maintenance pass (`observe`).
"""

from __future__ import annotations

import asyncio
import logging
import time

import anyio

from agent.storage.replication import Replicator

log = logging.getLogger("openfabric.storage")
PULL_TIMEOUT_S = 5.0
# Maintenance passes look every few seconds; a longer silence means this process was frozen.
QUIET_LIMIT_S = 10.0


class Freshness:
    def __init__(self, replicator: Replicator, timeout: float = PULL_TIMEOUT_S) -> None:
        self.replicator = replicator
        self.timeout = timeout
        self.synced = False
        self._started = False
        # Pushes may have been missed since the last pull: pull again once a member is online.
        self._missed = False
        self._seen_online = False
        self._looked_at: float | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> None:
        """Return once reads may be answered from this node's manifests (within `timeout`
        of a pull starting)."""
        self.observe()
        if self.synced:
            return
        async with self._lock:
            if not self.synced:
                await self._catch_up()

    def observe(self) -> None:
        now = time.monotonic()
        quiet = self._looked_at is not None and now - self._looked_at > QUIET_LIMIT_S
        self._looked_at = now
        if not self.synced:
            return
        if not self.replicator.other_members():
            # A lone node is current; once it joins, the cluster's table is what it lacks.
            self._missed, self._seen_online = True, False
            return
        online = self._any_online()
        if quiet or (self._seen_online and not online):
            self._missed = True
        if online:
            self._seen_online = True
            if self._missed:
                log.info("members are reachable again; syncing storage manifests before reads")
                self._missed = False
                self.synced = False

    def _any_online(self) -> bool:
        me = self.replicator.me
        return any(m.node_id != me for m in self.replicator.online_members())

    async def _catch_up(self) -> None:
        me = self.replicator.me
        if self._started:
            asked = [m for m in self.replicator.online_members() if m.node_id != me]
        else:
            asked = self.replicator.other_members()
        answered: list[str] = []
        if asked:
            digest = (await self.replicator.snapshot())["digest"]

            async def pull(index: int) -> None:
                node_id = asked[index].node_id
                try:
                    if await self.replicator.pull(asked[index], digest, self.timeout):
                        answered.append(node_id)
                except Exception:  # one member's bad table must not keep reads waiting
                    log.exception("pulling storage manifests from %s failed", node_id)

            with anyio.move_on_after(self.timeout):
                async with anyio.create_task_group() as tg:
                    for index in range(len(asked)):
                        tg.start_soon(pull, index)
            if not answered:
                log.warning("no member answered for storage manifests; answering from ours")
        online = self._any_online()
        # Nobody reached and nobody online: pull again as soon as one is.
        self._missed = bool(asked) and not answered and not online
        self._seen_online = online
        self._started = True
        self._looked_at = time.monotonic()
        self.synced = True
