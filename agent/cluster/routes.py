"""HTTP handlers for the cluster view."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.cluster.service import ClusterService
from agent.core.http import api_route, json_response


def build_routes(service: ClusterService) -> list[BaseRoute]:
    async def status(request: Request) -> Response:
        return json_response(await service.status())

    async def list_nodes(request: Request) -> Response:
        nodes = await service.nodes()
        return json_response({"nodes": nodes, "count": len(nodes)})

    async def get_node(request: Request) -> Response:
        return json_response(await service.node(request.path_params["node_id"]))

    async def evict_node(request: Request) -> Response:
        node_id = request.path_params["node_id"]
        await service.evict(node_id)
        return json_response({"success": True, "node_id": node_id, "evicted": True})

    return [
        api_route(
            "/api/status",
            status,
            methods=["GET"],
            tag="cluster",
            summary="Cluster summary: node counts and pooled RAM, storage, GPUs and VRAM.",
        ),
        api_route(
            "/api/nodes",
            list_nodes,
            methods=["GET"],
            tag="cluster",
            summary="Every node with its state and resource utilisation.",
        ),
        api_route(
            "/api/nodes/{node_id}",
            get_node,
            methods=["GET"],
            tag="cluster",
            summary="One node's state, resources and latest telemetry.",
            responses={404: "NODE_NOT_FOUND"},
        ),
        api_route(
            "/api/nodes/{node_id}",
            evict_node,
            methods=["DELETE"],
            tag="cluster",
            summary="Evict a node from the trusted cluster.",
            responses={404: "NODE_NOT_FOUND", 409: "CANNOT_EVICT_SELF"},
        ),
    ]
