"""LLM calls (the cluster's Ollama pool, chat and chat sessions), mixed into `AgentClient`.

    async with AgentClient(*discover()) as client:
        async for event in client.chat("qwen2.5:0.5b", [{"role": "user", "content": "hi"}]):
            if event.kind == "token":
                print(event.content, end="", flush=True)
        ask = [{"role": "user", "content": "What time is it in Tokyo?"}]
        async for event in client.chat("qwen2.5:7b", ask, mcp_servers=["time"]):  # or "all"
            if event.kind == "tool_call":
                print("calling", event.data["tool"], event.data["arguments"])
        async for step in client.llm_pull("llama3.2:3b"):
            print(step.status, step.completed, step.total)

Streams (`chat`, `llm_pull`) are Server-Sent Events the agent sends in answer to a POST. An
`error` event in a stream raises `ApiError` with the event's code; a stream that ends before
its `done` event raises `StreamEndedEarly`. A caller that stops early should close the iterator
(`contextlib.aclosing`) so the connection is released at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import aclosing
from typing import Any, Literal
from urllib.parse import quote

from agent.client.events import ChatEvent, PullEvent
from agent.client.transport import Transport
from agent.llm.models import (
    ChatAnswer,
    ChatSession,
    ChatSessionDeleted,
    ChatSessionDetail,
    ChatSessionList,
    LlmStatus,
    ModelCatalog,
    ModelDeleted,
)


def _session_path(session_id: str) -> str:
    return f"/api/llm/sessions/{quote(session_id, safe='')}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chat_body(
    model: str,
    messages: Iterable[Mapping[str, Any]] | None,
    session_id: str | None,
    message: str | None,
    options: Mapping[str, Any] | None,
    stream: bool,
    use_brain: bool = False,
    brain: Mapping[str, Any] | None = None,
    use_memory: bool = False,
    memory: Mapping[str, Any] | None = None,
    mcp_servers: Iterable[str] | Literal["all"] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "options": dict(options or {}), "stream": stream}
    if messages is not None:
        body["messages"] = [dict(m) for m in messages]
    if session_id is not None:
        body["session_id"] = session_id
    if message is not None:
        body["message"] = message
    # Sent only when asked for, so an agent without a brain sees the body it always did.
    if use_brain:
        body["use_brain"] = True
    if brain is not None:
        body["brain"] = dict(brain)
    if use_memory:
        body["use_memory"] = True
    if memory is not None:
        body["memory"] = dict(memory)
    if mcp_servers is not None:
        body["mcp_servers"] = "all" if mcp_servers == "all" else list(mcp_servers)
    return body


class LlmMixin(Transport):
    # --- the pool ------------------------------------------------------------------------

    async def llm_status(self) -> LlmStatus:
        """This node's Ollama: up or down (with the reason), version, models, loaded models."""
        return await self._get_model("/api/llm/status", LlmStatus)

    async def llm_models(self) -> ModelCatalog:
        """Every model in the cluster, the nodes holding it and the planner's verdict."""
        return await self._get_model("/api/llm/models", ModelCatalog)

    async def llm_delete(self, model: str) -> ModelDeleted:
        """Remove a model from this node's Ollama (MODEL_NOT_FOUND, LLM_BACKEND_UNAVAILABLE)."""
        path = f"/api/llm/models/{quote(model, safe='')}"
        return self._model(await self._request("DELETE", path), ModelDeleted)

    async def llm_pull(
        self, model: str, node: str | None = None
    ) -> AsyncGenerator[PullEvent, None]:
        """Pull `model` into this node's Ollama (or `node`'s): progress events, then `done`.

        Refusals before the stream: UNKNOWN_NODE, LLM_BACKEND_UNAVAILABLE; a failed pull
        raises `ApiError` with the code of its `error` event.
        """
        body: dict[str, Any] = {"model": model}
        if node is not None:
            body["node"] = node
        stream = self._stream(
            "POST", "/api/llm/pull", f"pull of {model}", json_body=body, until="done"
        )
        async with aclosing(stream):
            async for event in stream:
                data = event.data if isinstance(event.data, dict) else {}
                if event.topic == "done":
                    yield PullEvent("done", str(data.get("status") or "success"), data=data)
                    return
                if event.topic == "progress":
                    percent = data.get("percent")
                    yield PullEvent(
                        "progress",
                        str(data.get("status") or ""),
                        data.get("digest") or None,
                        _int(data.get("completed")),
                        _int(data.get("total")),
                        float(percent) if isinstance(percent, int | float) else None,
                        data,
                    )

    # --- chat ----------------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any]] | None = None,
        *,
        session_id: str | None = None,
        message: str | None = None,
        options: Mapping[str, Any] | None = None,
        use_brain: bool = False,
        brain: Mapping[str, Any] | None = None,
        use_memory: bool = False,
        memory: Mapping[str, Any] | None = None,
        mcp_servers: Iterable[str] | Literal["all"] | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Chat with `model` wherever it is in the cluster, streamed: `start`, a `token` per
        piece, then `done` (the whole answer in `content`, the stats in `data`).

        Send the whole conversation as `messages`, or `session_id` with the new `message`
        (the session keeps the history and stores the answer). With `use_brain`, the answer
        draws on the cluster's documents (`brain`: `k`, `path`, `node` narrow what is
        retrieved) and the `done` data lists them in `sources`, numbered as the answer cites
        them. With `use_memory`, the facts remembered about the user that are most like the
        last message go with it (`memory`: `k`; `learn: false` stops the agent from asking the
        model for new facts afterwards), listed in the `done` data's `facts`. With
        `mcp_servers` (server names, or "all"), the model may call those MCP servers' tools:
        each call comes as a `tool_call` event (`data`: id, round, server, tool, arguments,
        node_id) and its `tool_result` (id, is_error, text, duration_ms) before the answer's
        tokens, and the `done` data lists them in `tools`. Refusals: MODEL_NOT_FOUND,
        SESSION_NOT_FOUND, LLM_BACKEND_UNAVAILABLE, MEMORY_UNAVAILABLE, MCP_SERVER_NOT_FOUND,
        MCP_SERVER_DISABLED, LLM_TOOLS_UNSUPPORTED, FEATURE_UNAVAILABLE (an agent without
        MCP); a generation that fails midway raises `ApiError` (LLM_GENERATION_FAILED).
        """
        body = _chat_body(
            model,
            messages,
            session_id,
            message,
            options,
            True,
            use_brain,
            brain,
            use_memory,
            memory,
            mcp_servers,
        )
        stream = self._stream(
            "POST",
            "/api/llm/chat",
            f"chat with {model}",
            json_body=body,
            until="done",
            unfinished="the answer was done",
        )
        async with aclosing(stream):
            async for event in stream:
                data = event.data if isinstance(event.data, dict) else {}
                if event.topic == "token":
                    yield ChatEvent("token", str(data.get("content") or ""), data)
                elif event.topic == "start":
                    yield ChatEvent("start", data=data)
                elif event.topic == "tool_call":
                    yield ChatEvent("tool_call", data=data)
                elif event.topic == "tool_result":
                    yield ChatEvent("tool_result", data=data)
                elif event.topic == "done":
                    yield ChatEvent("done", str(data.get("content") or ""), data)
                    return

    async def chat_once(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any]] | None = None,
        *,
        session_id: str | None = None,
        message: str | None = None,
        options: Mapping[str, Any] | None = None,
        use_brain: bool = False,
        brain: Mapping[str, Any] | None = None,
        use_memory: bool = False,
        memory: Mapping[str, Any] | None = None,
        mcp_servers: Iterable[str] | Literal["all"] | None = None,
    ) -> ChatAnswer:
        """Like `chat`, but the whole answer at once: the message and the stats (with
        `mcp_servers`, the tool calls made in `tools`)."""
        body = _chat_body(
            model,
            messages,
            session_id,
            message,
            options,
            False,
            use_brain,
            brain,
            use_memory,
            memory,
            mcp_servers,
        )
        response = await self._request("POST", "/api/llm/chat", json_body=body)
        return self._model(response, ChatAnswer)

    # --- chat sessions -------------------------------------------------------------------

    async def sessions(self) -> ChatSessionList:
        """Stored chat sessions, most recently updated first."""
        return await self._get_model("/api/llm/sessions", ChatSessionList)

    async def create_session(
        self, title: str | None = None, model: str | None = None
    ) -> ChatSession:
        body = {k: v for k, v in (("title", title), ("model", model)) if v is not None}
        response = await self._request("POST", "/api/llm/sessions", json_body=body)
        return self._model(response, ChatSession)

    async def session(self, session_id: str) -> ChatSessionDetail:
        """A chat session with its messages (SESSION_NOT_FOUND)."""
        return await self._get_model(_session_path(session_id), ChatSessionDetail)

    async def delete_session(self, session_id: str) -> ChatSessionDeleted:
        response = await self._request("DELETE", _session_path(session_id))
        return self._model(response, ChatSessionDeleted)

    async def rename_session(self, session_id: str, title: str) -> ChatSession:
        path = f"{_session_path(session_id)}/title"
        response = await self._request("PUT", path, json_body={"title": title})
        return self._model(response, ChatSession)
