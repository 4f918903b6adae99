"""The discovery subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.discovery import routes as _routes
from agent.discovery.events import DISCOVERY_FOUND, DISCOVERY_LOST, DISCOVERY_UPDATED
from agent.discovery.model import SERVICE_TYPE, Advert
from agent.discovery.models import DiscoveredAgent, DiscoveryListing
from agent.discovery.service import DiscoveryService, OnMemberAddress

__all__ = [
    "DISCOVERY_FOUND",
    "DISCOVERY_LOST",
    "DISCOVERY_UPDATED",
    "SERVICE_TYPE",
    "Advert",
    "DiscoveredAgent",
    "DiscoveryListing",
    "DiscoveryService",
    "DiscoverySubsystem",
    "assemble",
    "create",
]


class DiscoverySubsystem:
    name = "discovery"

    def __init__(self, service: DiscoveryService) -> None:
        self.service = service

    def routes(self) -> list[BaseRoute]:
        return _routes.routes(self.service)

    async def start(self) -> None:
        await self.service.start()

    async def stop(self) -> None:
        await self.service.stop()


def create(ctx: Context) -> DiscoverySubsystem:
    cluster = ctx.cluster

    def advert() -> Advert:
        me = cluster.member(cluster.node_id)
        if me is None:
            raise RuntimeError("this node is missing from its own cluster view")
        return Advert(
            node_id=me.node_id,
            name=me.name,
            cluster_id=cluster.cluster_id,
            peer_port=me.peer_port,
            fingerprint=me.fingerprint,
            version=me.version,
        )

    def is_member(node_id: str) -> bool:
        member = cluster.member(node_id)
        return member is not None and not member.is_self

    async def seen_at(node_id: str, addresses: list[str], peer_port: int) -> None:
        cluster.hint_addresses(node_id, tuple(addresses))

    subsystem = assemble(ctx, advert=advert, is_member=is_member, on_member_address=seen_at)
    cluster.on_change(subsystem.service.refresh_advert)
    return subsystem


def assemble(
    ctx: Context,
    *,
    advert: Callable[[], Advert],
    is_member: Callable[[str], bool],
    on_member_address: OnMemberAddress | None = None,
) -> DiscoverySubsystem:
    return DiscoverySubsystem(
        DiscoveryService(
            ctx, advert=advert, is_member=is_member, on_member_address=on_member_address
        )
    )
