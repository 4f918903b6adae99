"""A small MCP server over stdio for the chat's tool tests: `python -m tests.llm.mcp_tool_server`.

Its tools: `add(a, b)` (integers), `lookup(key)` (from a fixed table; an unknown key is the
tool's own error) and `echo(text)` (what it was given, to check long results are bounded).
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

TABLE = {"capital:pt": "Lisbon", "capital:fr": "Paris"}

server = MCPServer("chat-tools", version="1.0")


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(description="Look a key up in the reference table.")
def lookup(key: str) -> str:
    if key not in TABLE:
        raise ToolError(f"no entry for {key!r}")
    return TABLE[key]


@server.tool(description="Answer the text as it is.")
def echo(text: str) -> str:
    return text


if __name__ == "__main__":
    server.run("stdio")
