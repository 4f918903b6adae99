"""LLM subsystem: every node's Ollama as one pool, with a sharding planner."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from agent.cluster import ClusterSubsystem
from agent.core.subsystem import Context
from agent.llm.backend import OllamaBackend
from agent.llm.routes import build_routes
from agent.llm.service import LlmService


class LlmSubsystem:
    name = "llm"

    def __init__(self, ctx: Context, cluster: ClusterSubsystem, telemetry: Any) -> None:
        self.ctx = ctx
        self.backend = OllamaBackend(ctx.settings.ollama_url)
        self.service = LlmService(ctx, self.backend, cluster.membership, telemetry)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service)

    async def start(self) -> None:
        self.ctx.spawn("llm.monitor", self.service.monitor)

    async def stop(self) -> None:
        await self.backend.close()


def create(ctx: Context, cluster: ClusterSubsystem, telemetry: Any) -> LlmSubsystem:
    return LlmSubsystem(ctx, cluster, telemetry)
