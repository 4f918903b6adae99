"""HTTP surface of discovery: agents seen on the LAN that are not yet members."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.http import api_route, json_response
from agent.discovery.models import DiscoveryListing
from agent.discovery.service import DiscoveryService


def routes(service: DiscoveryService) -> list[BaseRoute]:
    async def discovered(request: Request) -> Response:
        agents = service.discovered() if service.enabled else []
        return json_response(
            DiscoveryListing(agents=agents, count=len(agents), mdns=service.enabled)
        )

    return [
        api_route(
            "/api/cluster/discovered",
            discovered,
            methods=["GET"],
            tag="cluster",
            summary="Agents found on the LAN over mDNS that are not members of this cluster "
            '("mdns": false when discovery is off).',
            answer=DiscoveryListing,
        )
    ]
