"""The llm subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.llm.backend import OllamaBackend
from agent.llm.chat import ChatRouter
from agent.llm.chat_routes import build_chat_routes
from agent.llm.openai_routes import build_openai_routes
from agent.llm.peer_routes import build_peer_routes
from agent.llm.pull import build_pull_routes
from agent.llm.remembering import Learner
from agent.llm.routes import build_routes
from agent.llm.service import LlmService
from agent.llm.session_routes import build_session_routes
from agent.llm.store import ChatStore


class LlmSubsystem:
    name = "llm"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.backend = OllamaBackend(ctx.settings.ollama_url)
        self.service = LlmService(ctx, self.backend)
        self.store = ChatStore(ctx.db)
        self.router = ChatRouter(ctx, self.service, self.backend)
        self.learner = Learner(ctx, self.router)
        self.pull_routes, self.peer_pull_routes = build_pull_routes(
            self.service, ctx.cluster, ctx.peers
        )

    def routes(self) -> list[BaseRoute]:
        return [
            *build_routes(self.service),
            *build_chat_routes(self.router, self.store, self.ctx.bus, self.learner),
            *build_session_routes(self.store, self.ctx.bus),
            *build_openai_routes(self.router, self.service),
            *self.pull_routes,
        ]

    def peer_routes(self) -> list[BaseRoute]:
        return [*build_peer_routes(self.backend), *self.peer_pull_routes]

    async def start(self) -> None:
        await self.store.migrate()
        self.ctx.spawn("llm.monitor", self.service.monitor)

    async def stop(self) -> None:
        await self.backend.close()


def create(ctx: Context) -> LlmSubsystem:
    return LlmSubsystem(ctx)
