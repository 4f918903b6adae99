"""A small MCP server for the tests, over stdio (default) or streamable HTTP (`--http`).

Tools: `add` (strict schema), `echo_env` (proves credentials arrive as env vars), `fail`
(reports an error), `crash` (the process exits), `hang` (never answers), `noisy` (writes a
garbage line to stdout mid-session). `--garbage` also prints junk before the first message.
`--legacy` drops the 2026 `server/discover`, as servers of the 2025 protocol do.
With `--http` it serves on 127.0.0.1 port 0, prints `PORT <n>` and counts the session
DELETEs it receives (`GET /counts`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("fake-notes", version="1.2.3")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool()
def echo_env(name: str) -> str:
    """The value of an environment variable of this process."""
    return os.environ.get(name, "<unset>")


@server.tool()
def echo_header(name: str, ctx: Context) -> str:
    """The value of a header of the HTTP request that carried this call."""
    return (ctx.headers or {}).get(name.lower(), "<unset>")


@server.tool()
def fail(why: str = "broken") -> str:
    """Always reports an error."""
    raise ToolError(f"failed on purpose: {why}")


@server.tool()
def crash() -> str:
    """Exits the process without answering."""
    sys.stderr.write("about to crash\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool()
async def hang() -> str:
    """Never answers (an hour)."""
    await asyncio.sleep(3600)
    return "late"


@server.tool()
def noisy() -> str:
    """Writes a line that is not JSON-RPC to stdout, then answers."""
    os.write(1, b"this is not json\n")
    return "still here"


def serve_http() -> None:
    import uvicorn

    counts = {"delete": 0}
    app = server.streamable_http_app()

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/counts":
            body = json.dumps(counts).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and scope["method"] == "DELETE":
            counts["delete"] += 1
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(counting, log_level="warning", lifespan="on")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--garbage", action="store_true")
    parser.add_argument(
        "--legacy", action="store_true", help="Speak only the session-based (2025) protocol"
    )
    parser.add_argument("--stderr", default="", help="Write this env var's value to stderr")
    options = parser.parse_args()
    if options.stderr:
        sys.stderr.write(f"token is {os.environ.get(options.stderr)}\n")
        sys.stderr.flush()
    if options.legacy:
        # Without `server/discover` the client falls back to the `initialize` handshake,
        # whose streamable HTTP sessions the client ends with a DELETE.
        server._lowlevel_server._request_handlers.pop("server/discover")
    if options.http:
        serve_http()
        return
    if options.garbage:
        os.write(1, b"Starting up... not JSON\n{broken json\n")
    server.run("stdio")


if __name__ == "__main__":
    main()
