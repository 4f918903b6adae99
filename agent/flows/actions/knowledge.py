"""brain.search: passages of the cluster's documents, for a later step (a prompt) to use."""

from __future__ import annotations

from typing import Any

from agent.core.subsystem import Context
from agent.flows.actions.base import StepCall
from agent.flows.actions.bounds import (
    OUTPUT_BUDGET,
    head_fitting,
    missing,
    params_of,
    reported,
)
from agent.flows.actions.params import BrainSearchParams

# Half the outputs for the passages, half for the text that joins them.
PASSAGES_BUDGET = OUTPUT_BUDGET // 2
MAX_PASSAGE_CHARS = 4000


class BrainSearch:
    name = "brain.search"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, BrainSearchParams)
        knowledge = self.ctx.knowledge
        if knowledge is None:
            raise missing("brain", self.name)
        with reported("the search failed"):
            found = await knowledge.retrieve(
                params.query, k=params.k, path=params.path, node=params.node
            )
        each = max(256, PASSAGES_BUDGET // max(1, len(found)) - 512)
        passages = [
            {
                "path": p.path,
                "node_id": p.node_id,
                "node_name": p.node_name,
                "start_line": p.start_line,
                "end_line": p.end_line,
                "score": p.score,
                "text": head_fitting(p.text[:MAX_PASSAGE_CHARS], each),
            }
            for p in found
        ]
        joined = "\n\n".join(f"{p.path}:{p.start_line}\n{p.text}" for p in found)
        return {
            "passages": passages,
            "text": head_fitting(joined, PASSAGES_BUDGET - 1024),
            "count": len(passages),
        }
