"""The mcp subsystem object and `create(ctx)`; see the package docstring.

It provides the cluster's tools to the chat as `ctx.tools`, and serves the fabric's own tools
to MCP clients at `/mcp`. Each enabled server gets its own
supervisor task (in the `mcp.servers` job), started on demand by the first tools listing,
test or call, and closed on disable, delete and shutdown with no process of its group left.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.mcp.backoff import Backoff
from agent.mcp.cluster import ClusterToolbox
from agent.mcp.credentials import CredentialVault
from agent.mcp.fabric.mount import FabricMount
from agent.mcp.peer_routes import build_peer_routes
from agent.mcp.routes import build_routes
from agent.mcp.service import McpService
from agent.mcp.store import ServerStore


class McpSubsystem:
    name = "mcp"

    def __init__(self, ctx: Context, *, backoff: Backoff | None = None) -> None:
        self.ctx = ctx
        self.store = ServerStore(ctx.db, ctx.clock)
        self.vault = CredentialVault(ctx.settings.home / "mcp" / "credentials.json")
        self.service = McpService(
            self.store,
            self.vault,
            ctx.bus,
            ctx.metrics,
            ctx.settings,
            ctx.identity.node_id,
            backoff=backoff or Backoff(),
            clock=ctx.clock,
        )
        self.toolbox = ClusterToolbox(self.service, ctx.cluster, ctx.peers)
        ctx.provide_tools(self.toolbox)
        self.fabric = FabricMount(ctx.settings, ctx.spawn)

    def routes(self) -> list[BaseRoute]:
        return [*build_routes(self.service, self.toolbox), *self.fabric.routes()]

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.toolbox)

    async def start(self) -> None:
        await self.store.migrate()
        await self.service.load()
        self.ctx.spawn("mcp.servers", self.service.run)

    async def stop(self) -> None:
        # The supervisors were cancelled with the job (each closed its session, shielded);
        # this only makes sure no process of theirs outlived that.
        self.service.reap()


def create(ctx: Context) -> McpSubsystem:
    return McpSubsystem(ctx)
