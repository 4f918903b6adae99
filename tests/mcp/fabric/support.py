"""What the fabric's MCP tests share: the tools expected, reading a tool's answer, the
command that serves them over stdio, and an agent with its embedding model warm."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp_types import CallToolResult, TextContent

from tests.harness import AgentProcess, agent_process, call

# The first memory search loads the embedding model (seconds, more on a busy machine).
MODEL_LOAD_S = 120.0
EXPECTED_TOOLS = {
    "nodes",
    "node",
    "submit_task",
    "task",
    "task_logs",
    "storage_list",
    "storage_get",
    "storage_upload",
    "brain_search",
    "chat_once",
    "memory_add",
    "memory_search",
}


def serve_command() -> list[str]:
    """`openfabric mcp serve` through the CLI's own group once it has one, else the command
    object on its own (the same code either way)."""
    from cli.main import cli

    group = cli.commands.get("mcp")
    if group is not None and "serve" in getattr(group, "commands", {}):
        return [sys.executable, "-m", "cli", "mcp", "serve"]
    script = (
        "import sys; from cli.commands.mcp_serve import serve; "
        "serve.main(args=sys.argv[1:], prog_name='openfabric mcp serve')"
    )
    return [sys.executable, "-c", script]


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def answer(result: CallToolResult) -> Any:
    """The structured answer of a call that succeeded (its JSON text must say the same)."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    data = result.structured_content
    if set(data) == {"result"}:
        return data["result"]  # a list: one text block per item
    assert json.loads(text_of(result)) == data
    return data


def refusal(result: CallToolResult) -> str:
    assert result.is_error, result
    return text_of(result)


@contextmanager
def warm_agent(home: Path, *args: str) -> Iterator[AgentProcess]:
    with agent_process(home, "--node-name", "alpha", *args) as agent:
        warm = call(agent, "GET", "/api/memory/search", params={"q": "warm"}, timeout=MODEL_LOAD_S)
        assert warm.status_code == 200, warm.text
        yield agent
