"""Generating a chat answer somewhere in the cluster.

A generation is a stream of events (`models_streams.GenerationEvent`), the same whether it
runs here or on another member: a `token` for each piece, `tool_calls` when the model was
offered tools (Ollama's `tools`) and asks to call some, then `done` with the stats (or
`error`). A remote generation is one streamed peer request (`POST /peer/llm/chat`, NDJSON of
those events).
Errors before the first token are raised as `ApiError`s so callers can answer them properly;
routing prefers this node, then the least loaded online member that has the model.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx
import ollama
from pydantic import ValidationError

from agent.core.bus import EventBus
from agent.core.cluster import ONLINE
from agent.core.errors import ApiError, BadRequest, NotFound, ServiceUnavailable
from agent.core.http import peer_answer
from agent.core.subsystem import Context
from agent.llm.backend import OllamaBackend
from agent.llm.events import LLM_GENERATED, Generated
from agent.llm.models import InferenceSession, InferenceState
from agent.llm.models_streams import (
    GENERATION_EVENT,
    DoneEvent,
    ErrorEvent,
    FunctionCall,
    GenerationEvent,
    TokenEvent,
    ToolCallsEvent,
)
from agent.llm.service import LlmService
from agent.peer.client import PeerClient, PeerUnreachable

RECENT_KEPT = 100
# Ollama's options (temperature, num_ctx, stop...) are open-ended and passed on as they are.
Options = dict[str, Any]
# Ollama's chat messages: role and content, and an assistant's `tool_calls` or a tool
# result's `tool_name`.
Messages = list[dict[str, Any]]
# Ollama's `tools`: [{"type": "function", "function": {name, description, parameters}}].
Tools = list[dict[str, Any]]
Purpose = Literal["chat", "openai", "memory"]
AnswerFormat = Literal["json"] | dict[str, Any] | None


@dataclass
class Inference:
    inference_id: str
    model: str
    node_id: str
    started_at: float
    purpose: Purpose = "chat"
    state: InferenceState = "running"
    prompt_tokens: int | None = None
    generated_tokens: int = 0
    time_to_first_token_ms: float | None = None
    tokens_per_s: float | None = None
    ended_at: float | None = None
    error: str | None = None
    _first_at: float | None = field(default=None, repr=False)

    def view(self) -> InferenceSession:
        return InferenceSession(
            inference_id=self.inference_id,
            model=self.model,
            node_id=self.node_id,
            plan="single_node",
            started_at=self.started_at,
            state=self.state,
            prompt_tokens=self.prompt_tokens,
            generated_tokens=self.generated_tokens,
            time_to_first_token_ms=self.time_to_first_token_ms,
            tokens_per_s=self.tokens_per_s,
            ended_at=self.ended_at,
            error=self.error,
        )


class Inferences:
    """Active generations and the last RECENT_KEPT finished ones."""

    def __init__(self, bus: EventBus) -> None:
        self.items: OrderedDict[str, Inference] = OrderedDict()
        self.bus = bus

    def start(self, model: str, node_id: str, purpose: Purpose = "chat") -> Inference:
        record = Inference("i" + secrets.token_hex(6), model, node_id, time.time(), purpose)
        self.items[record.inference_id] = record
        finished = [k for k, v in self.items.items() if v.state != "running"]
        for key in finished[: max(0, len(finished) - RECENT_KEPT)]:
            del self.items[key]
        return record

    def token(self, record: Inference, pieces: int = 1) -> None:
        if record._first_at is None:
            record._first_at = time.time()
            record.time_to_first_token_ms = round((record._first_at - record.started_at) * 1000, 3)
        record.generated_tokens += pieces

    def finish(
        self,
        record: Inference,
        state: InferenceState,
        done: DoneEvent | None = None,
        error: str | None = None,
    ) -> None:
        record.state, record.ended_at, record.error = state, time.time(), error
        if done:
            record.prompt_tokens = done.prompt_tokens
            record.generated_tokens = done.completion_tokens or record.generated_tokens
            if done.eval_duration_ns:
                seconds = done.eval_duration_ns / 1e9
                record.tokens_per_s = round(record.generated_tokens / seconds, 3)
        if record.generated_tokens:
            generated = Generated(
                model=record.model,
                node_id=record.node_id,
                prompt_tokens=record.prompt_tokens,
                completion_tokens=record.generated_tokens,
                purpose=record.purpose,
            )
            self.bus.publish(LLM_GENERATED, generated)


class ChatRouter:
    def __init__(
        self,
        ctx: Context,
        service: LlmService,
        backend: OllamaBackend,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.backend = backend
        self.peers: PeerClient = ctx.peers
        self.inferences = Inferences(ctx.bus)

    def route(self, model: str) -> str:
        holders, known = [], False
        for node in self.service.capabilities().nodes:
            if node.llm is None or not any(m.name == model for m in node.llm.models):
                continue
            known = True
            if node.state == ONLINE and node.llm.up:
                holders.append(node)
        if not holders:
            if known:
                raise ServiceUnavailable(
                    f"no online node can run {model} right now",
                    code="LLM_BACKEND_UNAVAILABLE",
                    details={"model": model},
                )
            raise NotFound(
                f"no node in the cluster has the model {model}; pull it first",
                code="MODEL_NOT_FOUND",
                details={"model": model},
            )
        me = self.ctx.cluster.node_id
        if any(n.node_id == me for n in holders):
            return me
        return min(holders, key=lambda n: (-n.free_ram, n.node_id)).node_id

    async def generate(
        self,
        node_id: str,
        model: str,
        messages: Messages,
        options: Options,
        answer_format: AnswerFormat = None,
        tools: Tools | None = None,
    ) -> AsyncIterator[GenerationEvent]:
        """`answer_format` is Ollama's `format`: "json" or a JSON schema the answer must fit;
        `tools` the functions the model may ask to call (answered as `tool_calls`)."""
        if node_id == self.ctx.cluster.node_id:
            return await local_generation(
                self.backend, model, messages, options, answer_format, tools
            )
        return await self._remote(node_id, model, messages, options, answer_format, tools)

    async def _remote(
        self,
        node_id: str,
        model: str,
        messages: Messages,
        options: Options,
        answer_format: AnswerFormat,
        tools: Tools | None,
    ) -> AsyncIterator[GenerationEvent]:
        member = self.ctx.cluster.member(node_id)
        if member is None:
            raise ServiceUnavailable(
                f"node {node_id} left the cluster", code="LLM_BACKEND_UNAVAILABLE"
            )
        target = member.target
        body: dict[str, Any] = {"model": model, "messages": messages, "options": options}
        if answer_format is not None:
            body["format"] = answer_format
        if tools:
            body["tools"] = tools
        stream = self.peers.stream(target, "POST", "/peer/llm/chat", json_body=body, timeout=None)
        try:
            response = await stream.__aenter__()
        except PeerUnreachable as exc:
            raise ServiceUnavailable(
                f"node {node_id} is unreachable: {exc}", code="LLM_BACKEND_UNAVAILABLE"
            ) from None
        if response.status_code != 200:
            payload = peer_answer(await response.aread()) or {}
            await stream.__aexit__(None, None, None)
            details = payload.get("details")
            raise ApiError(
                str(payload.get("error", "remote generation failed")),
                code=str(payload.get("error_code", "LLM_REMOTE_ERROR")),
                details=details if isinstance(details, dict) else {},
                status=response.status_code,
            )

        async def events() -> AsyncIterator[GenerationEvent]:
            try:
                async for line in response.aiter_lines():
                    if line:
                        yield _remote_event(node_id, line)
            except httpx.HTTPError as exc:
                yield ErrorEvent(error=f"lost the stream from {node_id}: {exc}")
            finally:
                await stream.__aexit__(None, None, None)

        return events()


def _remote_event(node_id: str, line: str) -> GenerationEvent:
    try:
        return GENERATION_EVENT.validate_json(line)
    except ValidationError:
        return ErrorEvent(error=f"{node_id} sent a generation event of an unknown shape")


async def local_generation(
    backend: OllamaBackend,
    model: str,
    messages: Messages,
    options: Options,
    answer_format: AnswerFormat = None,
    tools: Tools | None = None,
) -> AsyncIterator[GenerationEvent]:
    """Start the generation here; raises before the first token on a known failure."""
    try:
        parts = await backend.client.chat(
            model=model,
            messages=messages,
            tools=tools or None,
            options=options or None,
            format=answer_format,
            stream=True,
        )
        iterator = parts.__aiter__()
        first = await iterator.__anext__()
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise NotFound(
                f"this node has no model {model}", code="MODEL_NOT_FOUND", details={"model": model}
            ) from None
        if exc.status_code == 400 and tools and "does not support tools" in exc.error:
            raise BadRequest(
                f"the model {model} cannot call tools; choose one that can, or chat "
                "without mcp_servers",
                code="LLM_TOOLS_UNSUPPORTED",
                details={"model": model},
            ) from None
        raise backend.down(f"{exc.status_code}: {exc.error}") from None
    except (httpx.HTTPError, ConnectionError, OSError) as exc:
        raise backend.down(str(exc) or type(exc).__name__) from None
    except StopAsyncIteration:
        raise backend.down("the answer ended before it began") from None

    async def events() -> AsyncIterator[GenerationEvent]:
        part = first
        try:
            while True:
                content = part.message.content if part.message else ""
                if content:
                    yield TokenEvent(content=content)
                if part.message and part.message.tool_calls:
                    yield _tool_calls(part.message.tool_calls)
                if part.done:
                    yield DoneEvent(
                        done_reason=part.done_reason,
                        prompt_tokens=part.prompt_eval_count,
                        completion_tokens=part.eval_count,
                        eval_duration_ns=part.eval_duration,
                        total_duration_ns=part.total_duration,
                    )
                    # Read to the end of Ollama's answer, so its connection is reused.
                    async for _ in iterator:
                        pass
                    return
                part = await iterator.__anext__()
        except StopAsyncIteration:
            return
        # ValueError: a part the client's models refuse (e.g. arguments that are no object).
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError, OSError, ValueError) as exc:
            yield ErrorEvent(error=str(exc))
        finally:
            # Closing the stream tells Ollama to stop generating for a caller who left.
            closer = getattr(parts, "aclose", None)
            if closer is not None:
                with anyio.CancelScope(shield=True):
                    await closer()

    return events()


def _tool_calls(calls: Sequence[ollama.Message.ToolCall]) -> GenerationEvent:
    try:
        found = [
            FunctionCall(name=c.function.name, arguments=dict(c.function.arguments)) for c in calls
        ]
        return ToolCallsEvent(calls=found)
    except ValidationError:
        return ErrorEvent(error=f"the model's {len(calls)} tool calls break the agent's bounds")
