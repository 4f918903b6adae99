"""Discovery: advertise this node as `_openfabric._tcp.local.` and find other agents on the LAN.

`create(ctx, advert=..., is_member=..., on_member_address=...)` wires the subsystem; the
cluster subsystem supplies what to advertise (`advert()`, read again on `refresh_advert()`),
who is a member, and receives members' new addresses and peer ports. Other subsystems read
`subsystem.service` (`discovered()`, `get()`) and listen to `discovery.found` / `.lost`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.discovery import routes as _routes
from agent.discovery.events import DISCOVERY_FOUND, DISCOVERY_LOST, DISCOVERY_UPDATED
from agent.discovery.model import SERVICE_TYPE, Advert, DiscoveredAgent
from agent.discovery.service import DiscoveryService, OnMemberAddress

__all__ = [
    "DISCOVERY_FOUND",
    "DISCOVERY_LOST",
    "DISCOVERY_UPDATED",
    "SERVICE_TYPE",
    "Advert",
    "DiscoveredAgent",
    "DiscoveryService",
    "DiscoverySubsystem",
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


def create(
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
