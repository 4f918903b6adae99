"""Chat and inference sessions over HTTP (chat sessions themselves: `session_routes`).

`POST /api/llm/chat` answers with an SSE stream: `start` {session_id, node_id, inference_id},
`token` {content} for each piece, then `done` {stats...} (or `error`). With `mcp_servers`, the
model may call those servers' tools (`tool_loop`): `tool_call` and `tool_result` events come
between `start` and the answer's tokens, and `done` lists the calls in `tools`. With
`stream: false` it answers one JSON object. The answer is stored in the session as it ends,
also when the client goes away mid-answer (what was generated is kept, marked partial). A
session keeps the user's messages and the answers' text, with the tool calls named in the
answer's stats; the calls' arguments and results are not kept, so a later message in the
session starts without them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Literal, TypeVar

import anyio
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.bus import EventBus
from agent.core.errors import ApiError, BadRequest, NotFound
from agent.core.http import api_route, json_response, read_json
from agent.core.sse import sse_response
from agent.core.wire import Answer
from agent.llm.chat import ChatRouter, Inference
from agent.llm.chat_request import ChatBody, conversation, toolbox_for
from agent.llm.events import SESSION_CHANGED, SessionChanged
from agent.llm.grounding import BrainOptions, ground
from agent.llm.models import (
    ChatAnswer,
    ChatFact,
    ChatMessage,
    ChatSource,
    ChatStats,
    ChatToolUse,
    InferenceSession,
    InferenceSessionList,
    MessageStats,
)
from agent.llm.models_streams import (
    ChatDone,
    ChatStart,
    ChatToken,
    ChatToolCall,
    ChatToolResult,
    DoneEvent,
    ErrorEvent,
    GenerationEvent,
    StreamError,
    TokenEvent,
)
from agent.llm.remembering import Learner, MemoryOptions, last_user_text, recall_into
from agent.llm.store import ChatStore
from agent.llm.tool_loop import LoopEvent, ToolChat
from agent.llm.tooling import ToolMenu

TAG = "llm"
Stats = TypeVar("Stats", bound=ChatStats)
Relayed = ChatToken | ChatToolCall | ChatToolResult | ChatDone | StreamError


def _stats(kind: type[Stats], record: Inference, done: DoneEvent | None, **extra: Any) -> Stats:
    return kind(
        node_id=record.node_id,
        model=record.model,
        prompt_tokens=done.prompt_tokens if done else None,
        completion_tokens=(done.completion_tokens if done else None) or record.generated_tokens,
        time_to_first_token_ms=record.time_to_first_token_ms,
        tokens_per_s=record.tokens_per_s,
        done_reason=done.done_reason if done else None,
        **extra,
    )


def build_chat_routes(
    router: ChatRouter, store: ChatStore, bus: EventBus, learner: Learner
) -> list[BaseRoute]:
    async def answer(
        record: Inference,
        events: AsyncIterator[GenerationEvent | LoopEvent],
        session_id: str | None,
        sources: list[ChatSource],
        facts: list[ChatFact],
        learn_from: str | None,
    ) -> AsyncIterator[Relayed]:
        """Relay the generation, and store what was said however it ends."""
        text: list[str] = []
        used: list[ChatToolUse] = []
        done: DoneEvent | None = None
        state: Literal["done", "failed", "cancelled"] = "cancelled"
        stored = False

        async def keep() -> None:
            # Shielded: a client that went away cancels this stream, but what was generated
            # is kept.
            with anyio.CancelScope(shield=True):
                await store.append(
                    session_id or "",
                    "assistant",
                    "".join(text),
                    time.time(),
                    stats=_stats(
                        MessageStats,
                        record,
                        done,
                        partial=state != "done",
                        sources=sources,
                        facts=facts,
                        tools=used,
                    ),
                )
            bus.publish(
                SESSION_CHANGED, SessionChanged(session_id=session_id or "", change="message")
            )

        try:
            async for event in events:
                if isinstance(event, TokenEvent):
                    router.inferences.token(record)
                    text.append(event.content)
                    yield ChatToken(content=event.content)
                elif isinstance(event, DoneEvent):
                    done, state = event, "done"
                    router.inferences.finish(record, "done", done)
                elif isinstance(event, ChatToolCall):
                    yield event
                elif isinstance(event, ChatToolResult):
                    used.append(_use(event))
                    yield event
                elif isinstance(event, ErrorEvent):
                    state = "failed"
                    yield StreamError(error=event.error, error_code="LLM_GENERATION_FAILED")
                    return
            if session_id is not None and text:
                # Before `done` goes out: a client that reads the session on `done` sees it.
                await keep()
                stored = True
            if learn_from is not None and text:
                learner.learn_later(
                    record.model, record.node_id, learn_from, "".join(text), facts, session_id
                )
            yield _stats(
                ChatDone,
                record,
                done,
                session_id=session_id,
                content="".join(text),
                sources=sources,
                facts=facts,
                tools=used,
            )
        finally:
            if record.state == "running":
                router.inferences.finish(record, state, done)
            if session_id is not None and text and not stored:
                await keep()

    async def chat(request: Request) -> Response:
        body = await read_json(request, ChatBody)
        toolbox = toolbox_for(body, router.ctx.tools)
        if body.brain is not None and not body.use_brain:
            raise BadRequest("`brain` options need use_brain: true")
        if body.memory is not None and not body.use_memory:
            raise BadRequest("`memory` options need use_memory: true")
        node_id = router.route(body.model)
        messages = await conversation(store, body)
        sources: list[ChatSource] = []
        if body.use_brain:
            messages, sources = await ground(
                router.ctx.knowledge, messages, body.brain or BrainOptions()
            )
        facts: list[ChatFact] = []
        memory = body.memory or MemoryOptions()
        learn_from = last_user_text(messages) if body.use_memory and memory.learn else None
        if body.use_memory:
            messages, facts = await recall_into(router.ctx, messages, memory)
        menu = None
        if toolbox is not None and body.mcp_servers:
            # Before anything is stored: an unknown or disabled server refuses the chat.
            menu = ToolMenu.of(await toolbox.tools(body.mcp_servers))
        if body.session_id is not None and body.message is not None:
            await store.append(body.session_id, "user", body.message, time.time(), model=body.model)
        record = router.inferences.start(body.model, node_id)
        try:
            events: AsyncIterator[GenerationEvent | LoopEvent]
            if toolbox is not None and menu is not None and menu.by_name:
                settings = router.ctx.settings
                chat = ToolChat(
                    router,
                    toolbox,
                    menu,
                    node_id,
                    body.model,
                    body.options,
                    settings.mcp_tool_rounds,
                    settings.mcp_call_timeout,
                )
                events = await chat.start(messages)
            else:
                events = await router.generate(node_id, body.model, messages, body.options)
        except Exception as exc:
            router.inferences.finish(record, "failed", error=str(exc))
            raise
        relay = answer(record, events, body.session_id, sources, facts, learn_from)
        if not body.stream:
            return json_response(await _one_answer(relay))
        start = ChatStart(
            session_id=body.session_id,
            node_id=node_id,
            inference_id=record.inference_id,
            model=body.model,
        )

        async def stream() -> AsyncIterator[ServerSentEvent]:
            yield _sse("start", start)
            async for item in relay:
                if isinstance(item, ChatToken):
                    yield _sse("token", item)
                elif isinstance(item, ChatToolCall):
                    yield _sse("tool_call", item)
                elif isinstance(item, ChatToolResult):
                    yield _sse("tool_result", item)
                elif isinstance(item, ChatDone):
                    yield _sse("done", item)
                else:
                    yield _sse("error", item)

        return sse_response(request, stream())

    async def inferences(request: Request) -> Response:
        items = [r.view() for r in reversed(router.inferences.items.values())]
        return json_response(InferenceSessionList(sessions=items, count=len(items)))

    async def inference(request: Request) -> Response:
        record = router.inferences.items.get(request.path_params["inference_id"])
        if record is None:
            raise NotFound("no such inference session", code="INFERENCE_NOT_FOUND")
        return json_response(record.view())

    return [
        api_route(
            "/api/llm/chat",
            chat,
            methods=["POST"],
            tag=TAG,
            body=ChatBody,
            streams=True,
            # What `stream: false` answers; a stream has no answer model.
            answer=ChatAnswer,
            summary="Chat with a model anywhere in the cluster (SSE "
            "tokens, then stats; stream=false for one JSON answer).",
            responses={
                400: "FEATURE_UNAVAILABLE (no MCP subsystem) | LLM_TOOLS_UNSUPPORTED",
                404: "MODEL_NOT_FOUND | SESSION_NOT_FOUND | NODE_NOT_FOUND | MCP_SERVER_NOT_FOUND",
                409: "MCP_SERVER_DISABLED",
                502: "LLM_GENERATION_FAILED",
                503: "LLM_BACKEND_UNAVAILABLE | BRAIN_UNAVAILABLE | MEMORY_UNAVAILABLE",
            },
        ),
        api_route(
            "/api/llm/inference/sessions",
            inferences,
            methods=["GET"],
            tag=TAG,
            answer=InferenceSessionList,
            summary="Active and recent generations with node, tokens and speed.",
        ),
        api_route(
            "/api/llm/inference/sessions/{inference_id}",
            inference,
            methods=["GET"],
            tag=TAG,
            answer=InferenceSession,
            summary="One generation's telemetry.",
            responses={404: "INFERENCE_NOT_FOUND"},
        ),
    ]


def _use(result: ChatToolResult) -> ChatToolUse:
    return ChatToolUse(
        server=result.server,
        tool=result.tool,
        is_error=result.is_error,
        duration_ms=result.duration_ms,
    )


async def _one_answer(relay: AsyncIterator[Relayed]) -> ChatAnswer:
    """The whole answer of a generation relayed without streaming; a failure is a 502.

    The relay is read to its end, so the session holds the answer before it is returned."""
    last: ChatDone | StreamError | None = None
    async for item in relay:
        if isinstance(item, ChatDone | StreamError):
            last = item
    if isinstance(last, ChatDone):
        stats = last.model_dump(exclude={"content"})
        return ChatAnswer(**stats, message=ChatMessage(role="assistant", content=last.content))
    # The relay always ends with `done` or an error; None would be a relay that never began.
    failed = last or StreamError(error="no answer", error_code="LLM_GENERATION_FAILED")
    raise ApiError(failed.error, code=failed.error_code, status=502)


def _sse(kind: str, data: Answer) -> ServerSentEvent:
    return ServerSentEvent(data=data.model_dump_json(), event=kind)
