"""The MCP tools a chat offers its model, in Ollama's `tools` format, and the way back from
the function name the model calls to the server and tool.

Naming: a tool is offered under its own name when no other offered server has a tool of that
name, and as `<server>__<tool>` when two servers share it (so `get_time` stays `get_time`, but
two servers' `search` become `notes__search` and `wiki__search`). Characters a function name
cannot hold become `_`, names are cut to MAX_FUNCTION_NAME, and a name that still collides gets
a numbered suffix: every offered name is unique and maps back to exactly one tool. The same
server and tool reported by two members is offered once (the first).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from agent.core.toolbox import MAX_TOOL_RESULT_CHARS, MAX_TOOLS_PER_REQUEST, ToolSpec
from agent.llm.chat import Tools

MAX_FUNCTION_NAME = 64
MAX_DESCRIPTION_CHARS = 2000
# The arguments a `tool_call` event echoes, as JSON; longer ones are cut with a marker.
MAX_ECHOED_ARGUMENTS = 8 * 1024
_INVALID = re.compile(r"[^A-Za-z0-9_-]")
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _function_name(raw: str) -> str:
    return _INVALID.sub("_", raw)[:MAX_FUNCTION_NAME] or "tool"


@dataclass(frozen=True)
class ToolMenu:
    """The tools of one chat, by the function name the model knows each by."""

    by_name: dict[str, ToolSpec]

    @classmethod
    def of(cls, specs: list[ToolSpec]) -> ToolMenu:
        unique: dict[tuple[str, str], ToolSpec] = {}
        for spec in specs:
            unique.setdefault((spec.server, spec.name), spec)
        chosen = sorted(unique.values(), key=lambda s: (s.server, s.name))
        chosen = chosen[:MAX_TOOLS_PER_REQUEST]
        shared = Counter(spec.name for spec in chosen)
        by_name: dict[str, ToolSpec] = {}
        for spec in chosen:
            raw = spec.name if shared[spec.name] == 1 else f"{spec.server}__{spec.name}"
            name = base = _function_name(raw)
            suffix = 2
            while name in by_name:
                tail = f"_{suffix}"
                name = base[: MAX_FUNCTION_NAME - len(tail)] + tail
                suffix += 1
            by_name[name] = spec
        return cls(by_name)

    def ollama_tools(self) -> Tools:
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": spec.description[:MAX_DESCRIPTION_CHARS],
                    "parameters": _parameters(spec.input_schema),
                },
            }
            for name, spec in self.by_name.items()
        ]

    def resolve(self, function: str) -> ToolSpec | None:
        return self.by_name.get(function)

    def unknown(self, function: str) -> str:
        """What the model reads when it called a function it was not offered."""
        offered = ", ".join(self.by_name) or "none"
        return f"error: there is no tool named {function!r}; the tools are: {offered}"


def _parameters(schema: dict[str, Any]) -> dict[str, Any]:
    # Functions take an object of named arguments; a server that declares no object schema
    # gets the empty one rather than a schema Ollama would refuse.
    if schema.get("type") != "object":
        return dict(EMPTY_SCHEMA)
    return {"properties": {}, **schema}


def bounded_text(text: str, limit: int = MAX_TOOL_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    marker = f"\n[truncated: {len(text) - limit} more characters]"
    return text[: max(0, limit - len(marker))] + marker


def echoed_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """`arguments` as a `tool_call` event shows them: whole when their JSON is at most
    MAX_ECHOED_ARGUMENTS bytes, else the start of that JSON under `_truncated`."""
    encoded = json.dumps(arguments, ensure_ascii=False, default=str)
    if len(encoded.encode()) <= MAX_ECHOED_ARGUMENTS:
        return arguments
    head = encoded.encode()[: MAX_ECHOED_ARGUMENTS - 64].decode(errors="ignore")
    return {"_truncated": head + f" …[{len(encoded.encode())} bytes in all]"}
