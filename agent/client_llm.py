"""The SDK's LLM calls (the cluster's Ollama pool and chat), mixed into `AgentClient`.

    async with AgentClient(*discover()) as client:
        async for event in client.chat("qwen2.5:0.5b", [{"role": "user", "content": "hi"}]):
            if event.kind == "token":
                print(event.content, end="", flush=True)
        async for step in client.llm_pull("llama3.2:3b"):
            print(step.status, step.completed, step.total)

Streams (`chat`, `llm_pull`) are Server-Sent Events the agent sends in answer to a POST. An
`error` event in a stream raises `ApiError` with the event's code; a stream that ends before
its `done` event raises `ClientError`. A caller that stops early should close the iterator
(`contextlib.aclosing`) so the connection is released at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

import httpx

from agent.client_base import ClientCore
from agent.client_llm_models import (
    ChatAnswer,
    ChatEvent,
    ChatSession,
    ChatSessionDetail,
    LlmStatus,
    ModelCatalog,
    ModelDeleted,
    PullEvent,
    SessionDeleted,
    SessionList,
)
from agent.client_models import (
    AgentUnavailable,
    ApiError,
    ClientError,
    SSEParser,
    StreamEvent,
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
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "options": dict(options or {}), "stream": stream}
    if messages is not None:
        body["messages"] = [dict(m) for m in messages]
    if session_id is not None:
        body["session_id"] = session_id
    if message is not None:
        body["message"] = message
    return body


def _stream_error(event: StreamEvent, status: int, what: str) -> ApiError:
    data = event.data if isinstance(event.data, dict) else {"error": str(event.data)}
    message = str(data.get("error") or f"the {what} failed")
    details = data.get("details")
    code = str(data.get("error_code") or "STREAM_ERROR")
    return ApiError(status, code, message, details if isinstance(details, dict) else {})


class LlmMixin(ClientCore):
    """`llm_*`, `chat*` and session methods of `AgentClient` (which supplies the HTTP client
    and helpers)."""

    # --- the pool ------------------------------------------------------------------------

    async def llm_status(self) -> LlmStatus:
        """This node's Ollama: up or down (with the reason), version, models, loaded models."""
        result: LlmStatus = await self._get_json("/api/llm/status")
        return result

    async def llm_models(self) -> ModelCatalog:
        """Every model in the cluster, the nodes holding it and the planner's verdict."""
        result: ModelCatalog = await self._get_json("/api/llm/models")
        return result

    async def llm_delete(self, model: str) -> ModelDeleted:
        """Remove a model from this node's Ollama (MODEL_NOT_FOUND, LLM_BACKEND_UNAVAILABLE)."""
        path = f"/api/llm/models/{quote(model, safe='')}"
        result: ModelDeleted = self._json(await self._request("DELETE", path))
        return result

    async def llm_pull(self, model: str, node: str | None = None) -> AsyncIterator[PullEvent]:
        """Pull `model` into this node's Ollama (or `node`'s): progress events, then `done`.

        Refusals before the stream: UNKNOWN_NODE, LLM_BACKEND_UNAVAILABLE; a failed pull
        raises `ApiError` with the code of its `error` event.
        """
        body: dict[str, Any] = {"model": model}
        if node is not None:
            body["node"] = node
        stream = self._post_sse("/api/llm/pull", body, f"pull of {model}")
        async with aclosing(stream):
            async for status, event in stream:
                data = event.data if isinstance(event.data, dict) else {}
                if event.topic == "error":
                    raise _stream_error(event, status, f"pull of {model}")
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
        raise ClientError(f"the agent ended the pull of {model} before it was done")

    # --- chat ----------------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any]] | None = None,
        *,
        session_id: str | None = None,
        message: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Chat with `model` wherever it is in the cluster, streamed: `start`, a `token` per
        piece, then `done` (the whole answer in `content`, the stats in `data`).

        Send the whole conversation as `messages`, or `session_id` with the new `message`
        (the session keeps the history and stores the answer). Refusals: MODEL_NOT_FOUND,
        SESSION_NOT_FOUND, LLM_BACKEND_UNAVAILABLE; a generation that fails midway raises
        `ApiError` (LLM_GENERATION_FAILED).
        """
        body = _chat_body(model, messages, session_id, message, options, True)
        stream = self._post_sse("/api/llm/chat", body, f"chat with {model}")
        async with aclosing(stream):
            async for status, event in stream:
                data = event.data if isinstance(event.data, dict) else {}
                if event.topic == "error":
                    raise _stream_error(event, status, f"chat with {model}")
                if event.topic == "token":
                    yield ChatEvent("token", str(data.get("content") or ""), data)
                elif event.topic == "start":
                    yield ChatEvent("start", data=data)
                elif event.topic == "done":
                    yield ChatEvent("done", str(data.get("content") or ""), data)
                    return
        raise ClientError(f"the agent ended the chat with {model} before the answer was done")

    async def chat_once(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any]] | None = None,
        *,
        session_id: str | None = None,
        message: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ChatAnswer:
        """Like `chat`, but the whole answer at once: `{"message": {role, content}, stats}`."""
        body = _chat_body(model, messages, session_id, message, options, False)
        response = await self._request("POST", "/api/llm/chat", json_body=body)
        result: ChatAnswer = self._json(response)
        return result

    # --- chat sessions -------------------------------------------------------------------

    async def sessions(self) -> SessionList:
        """Stored chat sessions, most recently updated first."""
        result: SessionList = await self._get_json("/api/llm/sessions")
        return result

    async def create_session(
        self, title: str | None = None, model: str | None = None
    ) -> ChatSession:
        body = {k: v for k, v in (("title", title), ("model", model)) if v is not None}
        response = await self._request("POST", "/api/llm/sessions", json_body=body)
        result: ChatSession = self._json(response)
        return result

    async def session(self, session_id: str) -> ChatSessionDetail:
        """A chat session with its messages (SESSION_NOT_FOUND)."""
        result: ChatSessionDetail = await self._get_json(_session_path(session_id))
        return result

    async def delete_session(self, session_id: str) -> SessionDeleted:
        response = await self._request("DELETE", _session_path(session_id))
        result: SessionDeleted = self._json(response)
        return result

    async def rename_session(self, session_id: str, title: str) -> ChatSession:
        path = f"{_session_path(session_id)}/title"
        response = await self._request("PUT", path, json_body={"title": title})
        result: ChatSession = self._json(response)
        return result

    # --- SSE in answer to a POST -----------------------------------------------------------

    async def _post_sse(
        self, path: str, body: Mapping[str, Any], what: str
    ) -> AsyncIterator[tuple[int, StreamEvent]]:
        """The events of the stream the agent answers a POST with, each with its status."""
        # No read timeout: a model may take long to load, and a pull to fetch a layer.
        timeout = httpx.Timeout(self.timeout, read=None)
        request = self._http.build_request(
            "POST",
            path,
            json=dict(body),
            headers={"Accept": "text/event-stream"},
            timeout=timeout,
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from None
        try:
            if response.status_code >= 400:
                await response.aread()
                raise ApiError.from_response(response)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise ApiError(
                    response.status_code,
                    "INVALID_RESPONSE",
                    f"the agent at {self.base_url} answered {path} without an event stream",
                )
            parser = SSEParser()
            try:
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield response.status_code, event
            except httpx.TransportError as exc:
                reason = f"lost the {what} from {self.base_url}: {exc}"
                raise AgentUnavailable(self.base_url, reason) from None
        finally:
            await response.aclose()
