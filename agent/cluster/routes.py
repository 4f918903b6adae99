"""Local API handlers for the cluster: view, eviction, tokens, join and leave."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.cluster.join import JoinService
from agent.cluster.models import (
    ClusterNode,
    ClusterStatus,
    EvictResult,
    IssuedJoinToken,
    JoinResult,
    LeaveResult,
    NodeList,
)
from agent.cluster.service import ClusterReport
from agent.core.http import (
    QueryParam,
    api_route,
    json_response,
    parse_query,
    read_json,
)
from agent.core.wire import StrictModel


class JoinRemoteBody(StrictModel):
    token: str


class EvictQuery(BaseModel):
    evict_admitted: bool = False


def build_routes(view: ClusterReport, joins: JoinService) -> list[BaseRoute]:
    async def status(request: Request) -> Response:
        return json_response(view.status())

    async def list_nodes(request: Request) -> Response:
        nodes = view.nodes()
        return json_response(NodeList(nodes=nodes, count=len(nodes)))

    async def get_node(request: Request) -> Response:
        return json_response(view.get(request.path_params["node_id"]))

    async def evict_node(request: Request) -> Response:
        query = parse_query(request, EvictQuery)
        return json_response(
            await joins.evict(request.path_params["node_id"], evict_admitted=query.evict_admitted)
        )

    async def join_token(request: Request) -> Response:
        return json_response(await joins.issue_token())

    async def join_remote(request: Request) -> Response:
        body = await read_json(request, JoinRemoteBody)
        return json_response(await joins.join(body.token))

    async def leave(request: Request) -> Response:
        return json_response(await joins.leave())

    tag = "cluster"
    return [
        api_route(
            "/api/status",
            status,
            methods=["GET"],
            tag=tag,
            summary="Cluster summary: node counts and pooled RAM, storage, GPUs and VRAM.",
            answer=ClusterStatus,
        ),
        api_route(
            "/api/nodes",
            list_nodes,
            methods=["GET"],
            tag=tag,
            summary="Every member with its state, last seen time and resources.",
            answer=NodeList,
        ),
        api_route(
            "/api/nodes/{node_id}",
            get_node,
            methods=["GET"],
            tag=tag,
            summary="One member's state, resources and latest telemetry.",
            responses={404: "NODE_NOT_FOUND"},
            answer=ClusterNode,
        ),
        api_route(
            "/api/nodes/{node_id}",
            evict_node,
            methods=["DELETE"],
            tag=tag,
            summary="Evict a member everywhere, for good; its key is refused from then on. The "
            "answer lists the members it admitted (`admitted`), for review; "
            "?evict_admitted=true evicts them too (`also_evicted`).",
            query=[
                QueryParam(
                    "evict_admitted",
                    type="boolean",
                    description="also evict the members the node admitted (default false)",
                )
            ],
            responses={404: "NODE_NOT_FOUND", 409: "CANNOT_EVICT_SELF"},
            answer=EvictResult,
        ),
        api_route(
            "/api/cluster/join-token",
            join_token,
            methods=["GET"],
            tag=tag,
            summary="A single-use join token valid for 10 minutes, with its join URL.",
            answer=IssuedJoinToken,
        ),
        api_route(
            "/api/cluster/join-remote",
            join_remote,
            methods=["POST"],
            tag=tag,
            body=JoinRemoteBody,
            summary="Join the cluster of the node that issued the token.",
            responses={
                409: "ALREADY_IN_CLUSTER",
                410: "TOKEN_EXPIRED | TOKEN_USED",
                422: "FINGERPRINT_MISMATCH",
                502: "BAD_JOIN_ANSWER",
                503: "ISSUER_UNREACHABLE",
            },
            answer=JoinResult,
        ),
        api_route(
            "/api/cluster/leave",
            leave,
            methods=["POST"],
            tag=tag,
            summary="Leave the cluster gracefully; this node becomes a lone node.",
            responses={409: "NOT_IN_CLUSTER"},
            answer=LeaveResult,
        ),
    ]
