"""mcp.call: one tool call on an MCP server, wherever in the cluster it runs.

A flow written on another member may not call this node's own servers while this node does
not share its tools (`mcp_share_tools` off): where a server runs is read from its tools' specs,
and a server whose place cannot be told is refused the same way.
"""

from __future__ import annotations

from typing import Any

from agent.core.subsystem import Context
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.actions.bounds import (
    OUTPUT_BUDGET,
    encoded_size,
    head_fitting,
    missing,
    params_of,
    reported,
    time_left,
)
from agent.flows.actions.params import McpCallParams
from agent.flows.clock import Clock

STRUCTURED_BUDGET = OUTPUT_BUDGET // 2


class McpCall:
    name = "mcp.call"

    def __init__(self, ctx: Context, clock: Clock) -> None:
        self.ctx, self.clock = ctx, clock

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, McpCallParams)
        tools = self.ctx.tools
        if tools is None:
            raise missing("mcp", self.name)
        if call.foreign and not self.ctx.settings.mcp_share_tools:
            with reported(f"the MCP server {params.server} could not be found"):
                specs = await tools.tools([params.server])
            here = self.ctx.identity.node_id
            places = {spec.node_id for spec in specs if spec.server == params.server}
            if not places or here in places:
                raise StepFailed(
                    f"this flow was written on another member, and the MCP server "
                    f"{params.server} may run on this node, which does not share its tools "
                    "(mcp_share_tools off)"
                )
        with reported(f"{params.server}/{params.tool} could not be called"):
            outcome = await tools.call(
                params.server,
                params.tool,
                dict(params.arguments),
                timeout=time_left(call, self.clock),
            )
        structured = outcome.structured
        if structured is not None and encoded_size(structured) > STRUCTURED_BUDGET:
            call.log("the structured result is too large for the outputs: left out")
            structured = None
        budget = OUTPUT_BUDGET - (0 if structured is None else encoded_size(structured))
        outputs = {
            "text": head_fitting(outcome.text, budget - 1024),
            "structured": structured,
            "node_id": outcome.node_id,
        }
        if outcome.is_error:
            raise StepFailed(
                f"{params.server}/{params.tool} failed: {outcome.text[:1000]}", outputs
            )
        return outputs
