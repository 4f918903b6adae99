"""`/mcp` on the local API, brought up by its first request: the SDK's server and session
manager (tens of MB, half a second to import) are loaded only once an MCP client comes, and
then live until the agent stops."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from agent.core.errors import ServiceUnavailable
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.mcp.fabric.http import FabricEndpoint

PATH = "/mcp"
READY_TIMEOUT_S = 10.0
Spawn = Callable[[str, Callable[[], Awaitable[Any]]], None]


class FabricMount:
    def __init__(self, settings: Settings, spawn: Spawn) -> None:
        self.settings = settings
        self.spawn = spawn
        self._endpoint: FabricEndpoint | None = None
        self._lock = anyio.Lock()

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, endpoint=self, methods=["GET", "POST", "DELETE"])]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = await self._ready()
        await endpoint(scope, receive, send)

    async def _ready(self) -> FabricEndpoint:
        async with self._lock:
            if self._endpoint is None:
                # Imported in a worker thread: the event loop keeps serving meanwhile.
                module = await anyio.to_thread.run_sync(
                    importlib.import_module, "agent.mcp.fabric.http"
                )
                endpoint: FabricEndpoint = module.FabricEndpoint.from_settings(self.settings)
                self.spawn("mcp.fabric", endpoint.run)
                with anyio.move_on_after(READY_TIMEOUT_S):
                    await endpoint.started.wait()
                if not endpoint.running:
                    raise ServiceUnavailable(
                        "the MCP endpoint did not start", code="MCP_UNAVAILABLE"
                    )
                self._endpoint = endpoint
        return self._endpoint
