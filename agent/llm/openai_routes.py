"""OpenAI-compatible endpoints: `POST /v1/chat/completions` and `GET /v1/models`.

They accept the local token as the API key, route like `/api/llm/chat`, and answer in OpenAI's
shapes, errors included (`{"error": {"message", "type", "param", "code"}}`), so the official
`openai` package works unchanged.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from agent.core.errors import ApiError, BadRequest
from agent.core.http import api_route, decode_json, json_response, read_body
from agent.llm.chat import ChatRouter, Inference
from agent.llm.grounding import BrainOptions, ground
from agent.llm.models import (
    OpenAiChatCompletion,
    OpenAiChoice,
    OpenAiMessage,
    OpenAiModel,
    OpenAiModelList,
    OpenAiUsage,
)
from agent.llm.models_chat import ChatSource
from agent.llm.models_streams import DoneEvent, ErrorEvent, GenerationEvent, TokenEvent
from agent.llm.service import LlmService

TAG = "openai"
_OPTION_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "num_predict",
    "seed": "seed",
    "stop": "stop",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}


class ContentPart(BaseModel):
    # Parts other than text (image_url, input_audio...) carry their own fields; only a text
    # part's `text` is used, and it must be a string.
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[ContentPart] | None = None


class Completion(BaseModel):
    # Lax (OpenAI clients send 1 for 1.0), but floats must be finite: NaN and inf would go
    # on to the backend as options no model can use.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    # OpenFabric's own fields (OpenAI clients send them as extra body fields).
    use_brain: bool = False
    brain: BrainOptions | None = None


def openai_error(status: int, message: str, code: str, param: str | None = None) -> Response:
    kind = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        503: "service_unavailable",
    }.get(status, "api_error")
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code.lower()}},
        status_code=status,
    )


def _text(content: str | list[ContentPart] | None) -> str:
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(p.text or "" for p in content if p.type == "text")
    return content or ""


def build_openai_routes(router: ChatRouter, service: LlmService) -> list[BaseRoute]:
    async def completions(request: Request) -> Response:
        record: Inference | None = None
        try:
            raw = await read_body(request, request.app.state.settings.max_body_bytes * 8)
            try:
                body = Completion.model_validate(await decode_json(raw))
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                raise BadRequest(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
            options = {
                _OPTION_NAMES[k]: v
                for k, v in body.model_dump().items()
                if k in _OPTION_NAMES and v is not None
            }
            messages = [{"role": m.role, "content": _text(m.content)} for m in body.messages]
            node_id = router.route(body.model)
            sources: list[ChatSource] = []
            if body.use_brain:
                messages, sources = await ground(
                    router.ctx.knowledge, messages, body.brain or BrainOptions()
                )
            record = router.inferences.start(body.model, node_id, "openai")
            events = await router.generate(node_id, body.model, messages, options)
        except ApiError as exc:
            if record is not None:  # started, but the generation was refused
                router.inferences.finish(record, "failed", error=exc.message)
            return openai_error(exc.status, exc.message, exc.code)
        ident, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        if body.stream:
            return StreamingResponse(
                _chunks(router, record, events, ident, created, body.model, sources),
                media_type="text/event-stream",
            )
        text: list[str] = []
        done: DoneEvent | None = None
        async for event in events:
            if isinstance(event, TokenEvent):
                router.inferences.token(record)
                text.append(event.content)
            elif isinstance(event, DoneEvent):
                done = event
            elif isinstance(event, ErrorEvent):
                router.inferences.finish(record, "failed", error=event.error)
                return openai_error(502, event.error, "generation_failed")
        router.inferences.finish(record, "done", done)
        prompt = (done.prompt_tokens if done else None) or 0
        completion = (done.completion_tokens if done else None) or record.generated_tokens
        return json_response(
            OpenAiChatCompletion(
                id=ident,
                created=created,
                model=body.model,
                choices=[
                    OpenAiChoice(
                        index=0,
                        message=OpenAiMessage(content="".join(text)),
                        finish_reason=_finish(done),
                    )
                ],
                usage=OpenAiUsage(
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    total_tokens=prompt + completion,
                ),
                sources=sources if body.use_brain else None,
            )
        )

    async def models(request: Request) -> Response:
        catalog = service.models().models
        return json_response(OpenAiModelList(data=[OpenAiModel(id=m.name) for m in catalog]))

    return [
        api_route(
            "/v1/chat/completions",
            completions,
            methods=["POST"],
            tag=TAG,
            streams=True,
            # What `stream: false` answers; a stream has no answer model.
            answer=OpenAiChatCompletion,
            summary="OpenAI-compatible chat completions (stream and non-stream).",
            responses={404: "model_not_found", 503: "llm_backend_unavailable"},
        ),
        api_route(
            "/v1/models",
            models,
            methods=["GET"],
            tag=TAG,
            answer=OpenAiModelList,
            summary="OpenAI-compatible list of the cluster's models.",
        ),
    ]


def _finish(done: DoneEvent | None) -> Literal["stop", "length"]:
    return "length" if done and done.done_reason == "length" else "stop"


async def _chunks(
    router: ChatRouter,
    record: Inference,
    events: AsyncIterator[GenerationEvent],
    ident: str,
    created: int,
    model: str,
    sources: list[ChatSource],
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if finish is not None and sources:
            data["sources"] = [s.model_dump(mode="json") for s in sources]
        return f"data: {json.dumps(data)}\n\n".encode()

    state: Literal["done", "failed", "cancelled"] = "cancelled"
    try:
        yield chunk({"role": "assistant", "content": ""})
        async for event in events:
            if isinstance(event, TokenEvent):
                router.inferences.token(record)
                yield chunk({"content": event.content})
            elif isinstance(event, DoneEvent):
                state = "done"
                router.inferences.finish(record, "done", event)
                yield chunk({}, _finish(event))
            elif isinstance(event, ErrorEvent):
                state = "failed"
                error = {"error": {"message": event.error, "type": "api_error"}}
                yield f"data: {json.dumps(error)}\n\n".encode()
                return
        yield b"data: [DONE]\n\n"
    finally:
        if record.state == "running":
            router.inferences.finish(record, state)
