"""llm.chat: one answer from a model wherever it runs in the cluster.

The answer is read as the chat's event stream, not as one response: a stream has no read
timeout, and a model may take longer to load and answer than a plain call waits. With no
`model` given, the smallest chat model an online member holds answers.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from agent.client import AgentClient
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.actions.bounds import OUTPUT_BUDGET, head_fitting, params_of, reported
from agent.flows.actions.params import LlmChatParams


class LlmChat:
    name = "llm.chat"

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, LlmChatParams)
        model = params.model or await self._default_model()
        messages: list[dict[str, str]] = []
        if params.system is not None:
            messages.append({"role": "system", "content": params.system})
        if params.messages is not None:
            messages += [m.model_dump() for m in params.messages]
        else:
            messages.append({"role": "user", "content": params.prompt or ""})
        options = {} if params.temperature is None else {"temperature": params.temperature}
        done: dict[str, Any] | None = None
        text = ""
        with reported(f"the chat with {model} failed"):
            stream = self.client.chat(
                model,
                messages,
                options=options,
                use_brain=params.use_brain,
                use_memory=params.use_memory,
                mcp_servers=params.mcp_servers,
            )
            async with aclosing(stream) as events:
                async for event in events:
                    if event.kind == "start":
                        call.log(f"answering with {model} on {event.data.get('node_id')}")
                    elif event.kind == "tool_call":
                        call.log(f"calling {event.data.get('server')}/{event.data.get('tool')}")
                    elif event.kind == "done":
                        done, text = event.data, event.content
        if done is None:
            raise StepFailed(f"the chat with {model} ended without an answer")
        return {
            "text": head_fitting(text, OUTPUT_BUDGET - 2048),
            "model": _text(done.get("model")) or model,
            "node_id": _text(done.get("node_id")),
            "prompt_tokens": _count(done.get("prompt_tokens")),
            "completion_tokens": _count(done.get("completion_tokens")),
        }

    async def _default_model(self) -> str:
        with reported("the cluster's models could not be listed"):
            catalog = await self.client.llm_models()
        held = [
            m
            for m in catalog.models
            if "embed" not in m.name and any(h.state == "online" for h in m.nodes)
        ]
        if not held:
            raise StepFailed("no member holds a chat model now: pull one, or give `model`")
        return min(held, key=lambda m: (m.size, m.name)).name


def _text(value: Any) -> str | None:
    return value[:300] if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
