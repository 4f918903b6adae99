"""HTTP handlers for the LLM pool."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.http import api_route, json_response
from agent.llm.models import InferenceCapabilities, LlmStatus, ModelCatalog, ModelDeleted
from agent.llm.service import LlmService

TAG = "llm"


def build_routes(service: LlmService) -> list[BaseRoute]:
    async def status(request: Request) -> Response:
        return json_response(await service.status())

    async def capabilities(request: Request) -> Response:
        return json_response(service.capabilities())

    async def models(request: Request) -> Response:
        return json_response(service.models())

    async def delete(request: Request) -> Response:
        return json_response(await service.delete(request.path_params["model"]))

    return [
        api_route(
            "/api/llm/status",
            status,
            methods=["GET"],
            tag=TAG,
            answer=LlmStatus,
            summary="This node's Ollama: up or down (with the reason), version, local "
            "and loaded models.",
        ),
        api_route(
            "/api/llm/inference/capabilities",
            capabilities,
            methods=["GET"],
            tag=TAG,
            answer=InferenceCapabilities,
            summary="Every member's Ollama, models and free memory, as last heard.",
        ),
        api_route(
            "/api/llm/models",
            models,
            methods=["GET"],
            tag=TAG,
            answer=ModelCatalog,
            summary="Every model anywhere in the cluster, the nodes holding it, and the "
            "sharding planner's verdict (fits on one node, split, or infeasible).",
        ),
        api_route(
            "/api/llm/models/{model:path}",
            delete,
            methods=["DELETE"],
            tag=TAG,
            answer=ModelDeleted,
            summary="Remove a model from this node's Ollama.",
            responses={404: "MODEL_NOT_FOUND", 503: "LLM_BACKEND_UNAVAILABLE"},
        ),
    ]
