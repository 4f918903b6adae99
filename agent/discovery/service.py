"""Discovery: advertise this node over mDNS and keep the table of agents seen on the LAN.

mDNS only finds devices and refreshes addresses; it never decides whether a member is alive
(heartbeats do). Entries leave the table when their advert is withdrawn or expires, or when
they have not been confirmed for `STALE_AFTER` seconds; known entries are re-resolved every
`REFRESH_AFTER` seconds (from the zeroconf cache while its records are fresh).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import anyio

from agent.core.subsystem import Context
from agent.discovery.events import DISCOVERY_FOUND, DISCOVERY_LOST, DISCOVERY_UPDATED
from agent.discovery.mdns import MdnsLink
from agent.discovery.model import (
    Advert,
    MalformedAdvert,
    instance_name,
    node_id_of,
    normalize_addresses,
    parse_advert,
)
from agent.discovery.models import DiscoveredAgent
from agent.discovery.registry import Registry
from agent.peer.addresses import host_ipv4_addresses, local_addresses

log = logging.getLogger("openfabric.discovery")
STALE_AFTER = 300.0
REFRESH_AFTER = 60.0
MAINTAIN_INTERVAL = 15.0

OnMemberAddress = Callable[[str, list[str], int], Awaitable[None]]


class DiscoveryService:
    def __init__(
        self,
        ctx: Context,
        *,
        advert: Callable[[], Advert],
        is_member: Callable[[str], bool],
        on_member_address: OnMemberAddress | None = None,
    ) -> None:
        self._ctx = ctx
        self._advert = advert
        self._is_member = is_member
        self._on_member_address = on_member_address
        self._registry = Registry()
        self._link = MdnsLink(self.handle_resolved, self.handle_removed)
        self._lock: anyio.Lock | None = None
        self._host_addresses: list[str] = []
        self._unbound_logged = False
        self._malformed = ctx.metrics.counter(
            "discovery_malformed_total", "Malformed _openfabric._tcp adverts ignored"
        )
        ctx.metrics.gauge_callback(
            "discovery_agents", "Agents seen over mDNS (members included)", self._registry.__len__
        )

    @property
    def enabled(self) -> bool:
        """True while mDNS runs (the `mdns` setting is on and the sockets could be opened)."""
        return self._link.open

    async def start(self) -> None:
        if not self._ctx.settings.mdns:
            return
        self._lock = anyio.Lock()
        try:
            self._link.start_sockets()
        except Exception as exc:  # no usable interface must not keep the agent from starting
            log.warning("mDNS discovery disabled: cannot open mDNS sockets: %s", exc)
            return
        self._ctx.spawn("discovery.mdns", lambda: self._link.run(self._publish, self._maintain))

    async def stop(self) -> None:
        await self._link.close()

    async def refresh_advert(self) -> None:
        """Re-read `advert()` and update what we announce (e.g. the cluster id after a join)."""
        if self.enabled:
            await self._publish()

    def discovered(self) -> list[DiscoveredAgent]:
        """Agents seen on the LAN that are not members of our cluster (never this node)."""
        return [a for a in self._registry.all() if not self._is_member(a.node_id)]

    def get(self, node_id: str) -> DiscoveredAgent | None:
        return self._registry.get(node_id)

    async def handle_resolved(
        self,
        name: str,
        properties: Mapping[bytes, bytes | None],
        addresses: list[str],
        port: int | None,
    ) -> DiscoveredAgent | None:
        """Record one resolved advert; malformed ones and our own are ignored."""
        try:
            advert = parse_advert(name, properties, port)
            found_at = normalize_addresses(addresses)
            if not found_at:
                raise MalformedAdvert("no address")
        except MalformedAdvert as exc:
            self._malformed.inc()
            log.debug("ignoring malformed advert %s: %s", name, exc)
            return None
        if advert.node_id == self._advert().node_id:
            return None
        sighting = self._registry.observe(advert, found_at, self._ctx.clock())
        agent = sighting.agent
        if sighting.found:
            self._ctx.bus.publish(DISCOVERY_FOUND, agent)
        elif sighting.changed:
            self._ctx.bus.publish(DISCOVERY_UPDATED, agent)
        if sighting.moved and self._on_member_address and self._is_member(agent.node_id):
            try:
                await self._on_member_address(agent.node_id, list(agent.addresses), agent.peer_port)
            except Exception:
                log.exception("updating the address of member %s failed", agent.node_id)
        return agent

    def handle_removed(self, name: str) -> None:
        node_id = node_id_of(name)
        agent = self._registry.remove(node_id) if node_id else None
        if agent is not None:
            self._ctx.bus.publish(DISCOVERY_LOST, agent)

    def expire(self) -> list[DiscoveredAgent]:
        """Drop the agents not confirmed for STALE_AFTER seconds (by `ctx.clock`)."""
        stale = self._registry.expire(self._ctx.clock() - STALE_AFTER)
        for agent in stale:
            self._ctx.bus.publish(DISCOVERY_LOST, agent)
        return stale

    async def _publish(self) -> None:
        assert self._lock is not None
        async with self._lock:
            advert = self._advert()
            if advert.peer_port <= 0:
                if not self._unbound_logged:
                    log.warning("not advertising over mDNS until the peer port is known")
                    self._unbound_logged = True
                return
            addresses = list(local_addresses(self._ctx.settings.advertise_address))
            try:
                await self._link.publish(advert, addresses)
            except Exception:
                if self.enabled:  # after stop() zeroconf fails whatever was in flight
                    log.exception("advertising over mDNS failed")

    async def _maintain(self) -> None:
        self._host_addresses = host_ipv4_addresses()
        while True:
            await anyio.sleep(MAINTAIN_INTERVAL)
            self.expire()
            now = self._ctx.clock()
            for agent in self._registry.all():
                if now - agent.last_seen > REFRESH_AFTER:
                    self._link.resolve(instance_name(agent.node_id))
            current = host_ipv4_addresses()
            if current != self._host_addresses:
                log.info("host addresses changed to %s", ", ".join(current) or "(none)")
                self._host_addresses = current
                await self._link.update_interfaces()
            await self._publish()
