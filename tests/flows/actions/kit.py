"""One live agent for the action tests (the Ollama double for its chats, the fake MCP server,
a folder for its brain), the actions built on it, and a step call as the engine makes one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agent.client import AgentClient
from agent.core.subsystem import Context
from agent.flows.actions.base import Action, StepCall
from agent.flows.actions.params import PARAMS
from agent.flows.actions.registry import build_actions
from tests.fakes.ollama import FakeOllama, serve_fake_ollama
from tests.harness import LiveAgent, async_wait_until, live_agent, make_settings
from tests.mcp.kit import fake_server

MODEL = "qwen2.5:0.5b"
ANSWER = "Tomatoes want water every morning."
DOC = "# Tomatoes\n\nWater the tomatoes every morning, before the sun is high.\n"


@dataclass
class Node:
    agent: LiveAgent
    ctx: Context
    client: AgentClient
    http: httpx.AsyncClient
    ollama: FakeOllama
    actions: dict[str, Action]
    docs: Path


@dataclass
class Call:
    """What one step call logged, for the assertions."""

    logs: list[str] = field(default_factory=list)


async def run(
    node: Node,
    uses: str,
    with_: dict[str, Any],
    *,
    foreign: bool = False,
    timeout: float | None = 60.0,
    seen: Call | None = None,
) -> dict[str, Any]:
    """Run `uses` once as the engine would: params validated, a deadline `timeout` away."""
    logs = seen.logs if seen is not None else []
    call = StepCall(
        flow_id="nightly",
        flow_name="Nightly backup",
        run_id="r1",
        step_id="s1",
        attempt=1,
        params=PARAMS[uses].model_validate(with_),
        foreign=foreign,
        log=logs.append,
        deadline=None if timeout is None else time.time() + timeout,
    )
    return await node.actions[uses].run(call)


@asynccontextmanager
async def action_node(home: Path, **settings: Any) -> AsyncIterator[Node]:
    docs = home / "docs"
    docs.mkdir(parents=True)
    (docs / "garden.md").write_text(DOC)
    fake = FakeOllama(models=[MODEL], reply_text=ANSWER)
    async with serve_fake_ollama(fake) as ollama:
        values = {"ollama_url": ollama.url, "brain_paths": (docs,), **settings}
        async with (
            live_agent(make_settings(home / "agent", **values)) as agent,
            agent.client(timeout=60) as http,
            AgentClient(agent.url, token=agent.token) as client,
        ):
            added = await http.post(
                "/api/mcp/servers", json={"name": "notes", "transport": fake_server()}
            )
            assert added.status_code == 201, added.text

            async def models_seen() -> bool:
                return bool((await http.get("/api/llm/status")).json()["models"])

            await async_wait_until(models_seen, 15, "the agent to see the double's models")
            app: Any = agent.server.config.app
            ctx: Context = app.state.ctx
            yield Node(agent, ctx, client, http, fake, build_actions(ctx, client), docs)
