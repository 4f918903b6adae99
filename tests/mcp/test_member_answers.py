"""A member's answer about its tools is a claim from a node that may be compromised: cut to
bounds and attributed to that member, whatever it says."""

from __future__ import annotations

from agent.mcp.cluster import MAX_MEMBER_TOOLS, member_tools
from agent.mcp.models import MAX_SCHEMA_BYTES, MAX_TOOL_DESCRIPTION, McpTool, PeerToolsAnswer


def tool(server: str = "far", name: str = "add", **extra: object) -> McpTool:
    fields: dict[str, object] = {
        "server": server,
        "node_id": "someone-else",
        "name": name,
        "description": "adds",
        "input_schema": {"type": "object"},
        **extra,
    }
    return McpTool.model_validate(fields)


def test_a_hostile_member_s_tools_are_bounded_and_attributed_to_it() -> None:
    answer = PeerToolsAnswer(
        tools=[
            *(tool(name=f"t{i}") for i in range(MAX_MEMBER_TOOLS + 50)),
            tool(server="../etc"),
            tool(name="x" * 129),
            tool(name="fat", input_schema={"blob": "x" * MAX_SCHEMA_BYTES}),
            tool(name="chatty", description="y" * (MAX_TOOL_DESCRIPTION * 3)),
        ],
        disabled=["off", "../bad", *(f"d{i}" for i in range(1000))],
    )
    tools, disabled = member_tools(answer, "the-member")
    assert len(tools) == MAX_MEMBER_TOOLS
    assert {t.node_id for t in tools} == {"the-member"}
    assert all(t.server == "far" and len(t.name) <= 128 for t in tools)
    assert len(disabled) <= 256
    assert "off" in disabled
    assert "../bad" not in disabled

    # Past the count, each bound holds on its own.
    odd = PeerToolsAnswer(
        tools=[
            tool(server="../etc"),
            tool(name="x" * 129),
            tool(name="fat", input_schema={"blob": "x" * MAX_SCHEMA_BYTES}),
            tool(name="chatty", description="y" * (MAX_TOOL_DESCRIPTION * 3)),
        ]
    )
    kept, _ = member_tools(odd, "the-member")
    assert [t.name for t in kept] == ["chatty"]
    assert len(kept[0].description) == MAX_TOOL_DESCRIPTION
