"""Heartbeats and membership sync between members.

Every `heartbeat_interval` this node POSTs `/peer/heartbeat` to every other member with its
latest telemetry and membership digest; the answer carries the peer's. Either side hearing
from the other marks it online. When digests differ, the caller pushes its whole table to
`/peer/membership` and merges the one that comes back, so both converge. A 403 NODE_EVICTED
answer means this node was evicted while it was away: it becomes a lone node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Coroutine, Iterable
from typing import Any

import anyio
import anyio.abc
from pydantic import ValidationError

from agent.cluster.membership import Membership
from agent.cluster.models import Table
from agent.cluster.store import EVICTED, Member
from agent.core.capabilities import Capabilities
from agent.core.cluster import TelemetryReadings
from agent.core.http import peer_answer
from agent.core.subsystem import Context
from agent.peer.client import PeerClient, PeerUnreachable

log = logging.getLogger("openfabric.cluster")
PERSIST_EVERY_S = 15.0
# How often this node re-reads its own addresses, so an IP change reaches members quickly.
REFRESH_SELF_EVERY_S = 5.0
# The loop sleeps until the next thing due (a beat, a member turning suspect or offline, a
# refresh); this much past a liveness deadline, so the silence has passed it when checked.
PAST_DEADLINE_S = 0.001


class Heartbeats:
    def __init__(
        self, ctx: Context, membership: Membership, peers: PeerClient, telemetry: TelemetryReadings
    ) -> None:
        self.ctx = ctx
        self.membership = membership
        self.peers = peers
        self.telemetry = telemetry
        self._in_flight: set[str] = set()
        self._next_beat: dict[str, float] = {}
        self._wake = anyio.Event()
        membership.on_members_changed = self.wake
        # Beats and table pushes run in a task group that `run` owns, so they end with it.
        self._group: anyio.abc.TaskGroup | None = None
        self.sent = ctx.metrics.counter("heartbeats_sent_total", "Heartbeats sent", ["outcome"])

    def payload(self) -> dict[str, Any]:
        return {
            "telemetry": self.telemetry.latest(),
            "capabilities": self.ctx.capabilities.model_dump(mode="json", exclude_none=True),
            "membership": {
                "version": self.membership.version(),
                "digest": self.membership.digest(),
            },
        }

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """One heartbeat per member per interval. Between beats the loop sleeps until the
        next thing due: a beat, a member turning suspect or offline once `suspect_after` or
        `offline_after` has passed, this node's refresh; a change to the member table or a
        beat that ran past its member's next one wakes it early."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                await self._tick_forever()
            finally:
                self._group = None

    async def _tick_forever(self) -> None:
        interval = self.ctx.settings.heartbeat_interval
        persisted_at = refreshed_at = time.monotonic()
        while True:
            self._wake = anyio.Event()  # a wake from here on calls for another look
            now = time.monotonic()
            if now - refreshed_at >= REFRESH_SELF_EVERY_S:
                refreshed_at = now
                if await self.membership.refresh_self():
                    self.spawn(self.broadcast())
            if now - persisted_at >= PERSIST_EVERY_S:
                persisted_at = now
                await self.persist_last_seen()
            wake_at = min(refreshed_at + REFRESH_SELF_EVERY_S, persisted_at + PERSIST_EVERY_S)
            for member in self.membership.peers():
                if member.node_id in self._in_flight:
                    continue  # its beat's end wakes the loop if the next one is due by then
                due = self._next_beat.get(member.node_id, 0.0)
                if now >= due:
                    # On time, the cadence holds; late (or the first), the next is one
                    # interval from now.
                    due = due + interval if due + interval > now else now + interval
                    self._next_beat[member.node_id] = due
                    self.spawn(self.beat(member))
                wake_at = min(wake_at, due)
            self.membership.check_liveness()
            change = self.membership.next_liveness_change()
            if change is not None:
                wake_at = min(wake_at, change + PAST_DEADLINE_S)
            with anyio.move_on_after(max(0.0, wake_at - time.monotonic())):
                await self._wake.wait()

    async def persist_last_seen(self) -> None:
        seen = {n: live.last_seen for n, live in self.membership.live.items() if live.last_seen}
        if seen:
            await self.membership.store.save_last_seen(seen)

    def spawn(self, job: Coroutine[Any, Any, None]) -> None:
        """Run `job` beside the heartbeat loop, which owns it; once the loop has ended (the
        agent is stopping) the job is dropped unrun."""
        if self._group is None:
            job.close()
            return
        self._group.start_soon(_logged, job)

    async def stop(self) -> None:
        if self._group is not None:
            self._group.cancel_scope.cancel()
        await self.persist_last_seen()

    async def beat(self, member: Member) -> None:
        self._in_flight.add(member.node_id)
        timeout = max(1.0, min(2.0, self.ctx.settings.heartbeat_interval * 2))
        try:
            response = await self.peers.request(
                self.membership.target(member),
                "POST",
                "/peer/heartbeat",
                json_body=self.payload(),
                timeout=timeout,
            )
        except (PeerUnreachable, OSError) as exc:
            self.sent.labels("unreachable").inc()
            log.debug("heartbeat to %s failed: %s", member.node_id, exc)
            return
        finally:
            self._in_flight.discard(member.node_id)
            if time.monotonic() >= self._next_beat.get(member.node_id, 0.0):
                self.wake()
        await self._handle_answer(member, response.status_code, _json(response))

    async def _handle_answer(self, member: Member, status: int, body: dict[str, Any]) -> None:
        if status == 403 and body.get("error_code") == "NODE_EVICTED":
            self.sent.labels("evicted").inc()
            await self.membership.become_lone(EVICTED)
            return
        if status != 200:
            self.sent.labels(f"http_{status}").inc()
            return
        self.sent.labels("ok").inc()
        self.membership.heard_from(
            member.node_id, body.get("telemetry"), capabilities=_capabilities(body)
        )
        theirs = (body.get("membership") or {}).get("digest")
        if theirs and theirs != self.membership.digest():
            await self.sync_with(member)

    async def sync_with(self, member: Member) -> None:
        try:
            response = await self.peers.request(
                self.membership.target(member),
                "POST",
                "/peer/membership",
                json_body=self.membership.wire(),
                timeout=5,
            )
            answer = _json(response)
            if response.status_code == 200 and answer.get("cluster_id") is not None:
                await self.membership.merge(Table.model_validate(answer))
        except (PeerUnreachable, OSError, ValidationError) as exc:
            log.debug("membership sync with %s failed: %s", member.node_id, exc)

    async def broadcast(self, extra: Iterable[Member] = ()) -> None:
        """Push the whole table to every member (and `extra`, e.g. the node just evicted)."""
        targets = {m.node_id: m for m in [*self.membership.peers(), *extra]}
        targets.pop(self.membership.node_id, None)
        async with anyio.create_task_group() as group:
            for member in targets.values():
                group.start_soon(self.sync_with, member)


async def _logged(job: Coroutine[Any, Any, None]) -> None:
    # One failed beat must not end the loop that owns it, and with it every later beat.
    try:
        await job
    except Exception:
        log.exception("heartbeat job failed")


def _json(response: Any) -> dict[str, Any]:
    return peer_answer(response.content) or {}


def _capabilities(body: dict[str, Any]) -> Capabilities | None:
    """A peer's answered capabilities, or None (kept as they were) when they do not validate."""
    try:
        return Capabilities.model_validate(body.get("capabilities") or {})
    except ValidationError:
        return None
