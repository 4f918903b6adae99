"""The fabric's MCP server: its operations as tools, served over stdio (`openfabric mcp
serve`) or streamable HTTP (`/mcp`, see `agent.mcp.fabric.http`)."""

from __future__ import annotations

import logging

from mcp.server.mcpserver import MCPServer

from agent import __version__
from agent.client import AgentClient, ClientError
from agent.mcp.fabric import knowledge_tools, storage_tools, task_tools
from agent.mcp.fabric.calls import ClientOpener, shared

log = logging.getLogger("openfabric.mcp.fabric")
SERVER_NAME = "openfabric"
# Generous: a chat answer or a first embedding (the model loading) takes seconds.
CALL_TIMEOUT = 120.0
INSTRUCTIONS = (
    "Tools of an OpenFabric cluster: the devices a person owns, joined into one. List and "
    "inspect its nodes, run shell commands on them as tasks and read their output, read and "
    "write its shared storage, search the documents indexed on every node, chat with the "
    "language models it runs, and remember facts. A refused call answers an error naming its "
    "error_code."
)


def build_server(opener: ClientOpener) -> MCPServer:
    """The fabric's tools, each calling the agent through a client `opener` gives it."""
    # WARNING: the SDK installs a root log handler at this level when none exists yet, and
    # stdio must never see a request log line (stdout is the protocol; these go to stderr).
    server: MCPServer = MCPServer(
        SERVER_NAME, version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    task_tools.register(server, opener)
    storage_tools.register(server, opener)
    knowledge_tools.register(server, opener)
    return server


async def serve_stdio(url: str, token: str | None) -> None:
    """Serve the tools on stdin/stdout against the agent at `url` until stdin ends."""
    async with AgentClient(url, token, timeout=CALL_TIMEOUT) as client:
        try:
            await client.health()
        except ClientError as exc:
            log.warning("%s; every tool will say so until it answers", exc)
        await build_server(shared(client)).run_stdio_async()
