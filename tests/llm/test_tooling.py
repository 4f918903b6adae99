"""How a chat offers MCP tools to its model: Ollama's format, names that are valid, unique
and map back to one tool, and the bounds on what goes back to the model and to the client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.core.errors import BadRequest
from agent.core.toolbox import MAX_TOOL_RESULT_CHARS, ToolSpec
from agent.llm.chat_request import ChatBody, toolbox_for
from agent.llm.tooling import MAX_ECHOED_ARGUMENTS, ToolMenu, bounded_text, echoed_arguments


def spec(server: str, name: str, schema: dict[str, Any] | None = None) -> ToolSpec:
    return ToolSpec(server, name, f"{name} of {server}", schema or {"type": "object"}, "n1")


# --- the pure pieces -----------------------------------------------------------------------


def test_unique_names_stay_bare_and_shared_ones_are_qualified() -> None:
    menu = ToolMenu.of([spec("time", "now"), spec("notes", "search"), spec("wiki", "search")])
    assert set(menu.by_name) == {"now", "notes__search", "wiki__search"}
    assert menu.resolve("wiki__search") == spec("wiki", "search")
    assert menu.resolve("search") is None


def test_names_are_valid_functions_unique_and_bounded() -> None:
    long = "x" * 100
    menu = ToolMenu.of(
        [spec("a", "get.time"), spec("b", "get/time"), spec("c", long), spec("d", long)]
    )
    names = list(menu.by_name)
    assert len(set(names)) == 4
    assert all(len(n) <= 64 and n.replace("_", "").replace("-", "").isalnum() for n in names)
    assert {menu.by_name[n].server for n in names} == {"a", "b", "c", "d"}


def test_the_same_tool_from_two_members_is_offered_once() -> None:
    twice = [spec("time", "now"), ToolSpec("time", "now", "other", {"type": "object"}, "n2")]
    menu = ToolMenu.of(twice)
    assert list(menu.by_name) == ["now"]
    assert menu.by_name["now"].node_id == "n1"


def test_tools_go_out_in_ollamas_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    [offered] = ToolMenu.of([spec("calc", "add", schema)]).ollama_tools()
    assert offered == {
        "type": "function",
        "function": {"name": "add", "description": "add of calc", "parameters": schema},
    }
    [loose] = ToolMenu.of([spec("calc", "odd", {"type": "string"})]).ollama_tools()
    assert loose["function"]["parameters"] == {"type": "object", "properties": {}}


def test_results_and_echoed_arguments_are_bounded() -> None:
    assert bounded_text("short") == "short"
    cut = bounded_text("y" * (MAX_TOOL_RESULT_CHARS + 10))
    assert len(cut) == MAX_TOOL_RESULT_CHARS
    assert cut.endswith("more characters]")
    small = {"a": 1}
    assert echoed_arguments(small) == small
    echoed = echoed_arguments({"text": "z" * 20_000})
    assert list(echoed) == ["_truncated"]
    assert len(json.dumps(echoed).encode()) <= MAX_ECHOED_ARGUMENTS + 64


def test_without_a_toolbox_asking_for_tools_is_unavailable() -> None:
    body = ChatBody(model="m", messages=[], mcp_servers=["time"])
    with pytest.raises(BadRequest) as refused:
        toolbox_for(body, None)
    assert refused.value.code == "FEATURE_UNAVAILABLE"
    assert "MCP" in str(refused.value)
    # Asking for none needs no toolbox.
    assert toolbox_for(ChatBody(model="m", messages=[], mcp_servers=[]), None) is None
