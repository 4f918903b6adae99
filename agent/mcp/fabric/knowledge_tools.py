"""Retrieval, chat and memory as tools: `brain_search`, `chat_once`, `memory_add`,
`memory_search`."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from agent.client import AgentClient

# Memory's answers are its wire models, as the SDK returns them (not in agent.client.types).
from agent.client.types import AddFactAnswer, BrainSearchAnswer, ChatAnswer, FactSearchAnswer
from agent.mcp.fabric.calls import ClientOpener, ToolContext, call_agent

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
MAX_K = 50

Query = Annotated[str, Field(min_length=1, max_length=2000, description="What to look for")]
HowMany = Annotated[int, Field(ge=1, le=MAX_K, description="How many results, best first")]


def register(server: MCPServer, opener: ClientOpener) -> None:
    @server.tool(annotations=READ_ONLY)
    async def brain_search(
        q: Query,
        ctx: ToolContext,
        k: HowMany = 10,
        mode: Annotated[
            Literal["hybrid", "vector", "lexical"],
            Field(description="hybrid: meaning and words; vector: meaning; lexical: words"),
        ] = "hybrid",
        node: Annotated[
            str | None, Field(max_length=256, description="Only this node_id's documents")
        ] = None,
        path: Annotated[
            str | None, Field(max_length=4096, description="Only files under this path prefix")
        ] = None,
    ) -> BrainSearchAnswer:
        """Search the documents indexed on every node of the cluster (Fabric Brain) for the
        passages that best answer `q`: each hit has its text, score, node, file path and
        lines. Members that could not be searched are listed in `not_searched`. Refusals:
        VALIDATION_ERROR, NODE_NOT_FOUND, BRAIN_UNAVAILABLE."""

        async def search(client: AgentClient) -> BrainSearchAnswer:
            return await client.brain_search(q, k=k, mode=mode, node=node, path=path)

        return await call_agent(opener, ctx, search)

    @server.tool(annotations=ToolAnnotations(open_world_hint=False))
    async def chat_once(
        model: Annotated[
            str, Field(min_length=1, max_length=300, description="An Ollama model name")
        ],
        message: Annotated[
            str, Field(min_length=1, max_length=1_000_000, description="The user's message")
        ],
        ctx: ToolContext,
        session_id: Annotated[
            str | None,
            Field(max_length=256, description="Continue this stored chat session (its history)"),
        ] = None,
        use_brain: Annotated[
            bool, Field(description="Ground the answer in the cluster's documents (cited)")
        ] = False,
        use_memory: Annotated[
            bool, Field(description="Give the model the facts remembered about the user")
        ] = False,
    ) -> ChatAnswer:
        """Ask a language model on the cluster (wherever the model is loaded) and get its
        whole answer: the message, the node that answered, token counts and timings, and with
        `use_brain` the passages it drew on. Refusals: MODEL_NOT_FOUND, SESSION_NOT_FOUND,
        LLM_BACKEND_UNAVAILABLE, MEMORY_UNAVAILABLE, LLM_GENERATION_FAILED."""

        async def ask(client: AgentClient) -> ChatAnswer:
            if session_id is not None:
                return await client.chat_once(
                    model,
                    session_id=session_id,
                    message=message,
                    use_brain=use_brain,
                    use_memory=use_memory,
                )
            conversation = [{"role": "user", "content": message}]
            return await client.chat_once(
                model, conversation, use_brain=use_brain, use_memory=use_memory
            )

        return await call_agent(opener, ctx, ask)

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True, open_world_hint=False))
    async def memory_add(
        text: Annotated[
            str, Field(min_length=1, max_length=2000, description="The fact, one sentence")
        ],
        ctx: ToolContext,
        key: Annotated[
            str | None,
            Field(
                max_length=128,
                description="A name for what the fact is about (e.g. user.editor): a new fact "
                "with the key of an active one replaces it",
            ),
        ] = None,
        tags: Annotated[list[str] | None, Field(max_length=16, description="Free tags")] = None,
    ) -> AddFactAnswer:
        """Remember a fact about the user or their setup, on every member of the cluster
        (Fabric Memory). `outcome` says what happened: created, existing (already known,
        nothing changed) or superseded (it replaced the facts with the same key). Refusals:
        VALIDATION_ERROR, MEMORY_FULL, MEMORY_UNAVAILABLE."""
        return await call_agent(
            opener, ctx, lambda client: client.memory_add(text, key=key, tags=tags or ())
        )

    @server.tool(annotations=READ_ONLY)
    async def memory_search(q: Query, ctx: ToolContext, k: HowMany = 10) -> FactSearchAnswer:
        """Find the remembered facts most similar in meaning to `q`, best first, each with a
        score (cosine similarity). Refusals: VALIDATION_ERROR, MEMORY_UNAVAILABLE."""
        return await call_agent(opener, ctx, lambda client: client.memory_search(q, k))
