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
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from agent.core.errors import ApiError, BadRequest
from agent.core.http import api_route, decode_json, read_body
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


def build_openai_routes(router: Any, service: LlmService) -> list[BaseRoute]:
    async def completions(request: Request) -> Response:
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
            record = router.inferences.start(body.model, node_id)
            events = await router.generate(node_id, body.model, messages, options)
        except ApiError as exc:
            return openai_error(exc.status, exc.message, exc.code)
        ident, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        if body.stream:
            return StreamingResponse(
                _chunks(router, record, events, ident, created, body.model),
                media_type="text/event-stream",
            )
        text, done = [], None
        async for event in events:
            if event["type"] == "token":
                router.inferences.token(record)
                text.append(event["content"])
            elif event["type"] == "done":
                done = event
            elif event["type"] == "error":
                router.inferences.finish(record, "failed", error=event.get("error"))
                return openai_error(502, str(event.get("error")), "generation_failed")
        router.inferences.finish(record, "done", done)
        prompt = (done or {}).get("prompt_tokens") or 0
        completion = (done or {}).get("completion_tokens") or record.generated_tokens
        return JSONResponse(
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(text)},
                        "finish_reason": _finish(done),
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def models(request: Request) -> Response:
        catalog = service.models()["models"]
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": m["name"], "object": "model", "created": 0, "owned_by": "openfabric"}
                    for m in catalog
                ],
            }
        )

    return [
        api_route(
            "/v1/chat/completions",
            completions,
            methods=["POST"],
            tag=TAG,
            streams=True,
            summary="OpenAI-compatible chat completions (stream and non-stream).",
            responses={404: "model_not_found", 503: "llm_backend_unavailable"},
        ),
        api_route(
            "/v1/models",
            models,
            methods=["GET"],
            tag=TAG,
            summary="OpenAI-compatible list of the cluster's models.",
        ),
    ]


def _finish(done: dict[str, Any] | None) -> str:
    return "length" if done and done.get("done_reason") == "length" else "stop"


async def _chunks(
    router: Any,
    record: Any,
    events: AsyncIterator[dict[str, Any]],
    ident: str,
    created: int,
    model: str,
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data)}\n\n".encode()

    state = "cancelled"
    try:
        yield chunk({"role": "assistant", "content": ""})
        async for event in events:
            if event["type"] == "token":
                router.inferences.token(record)
                yield chunk({"content": event["content"]})
            elif event["type"] == "done":
                state = "done"
                router.inferences.finish(record, "done", event)
                yield chunk({}, _finish(event))
            elif event["type"] == "error":
                state = "failed"
                error = {"error": {"message": str(event.get("error")), "type": "api_error"}}
                yield f"data: {json.dumps(error)}\n\n".encode()
                return
        yield b"data: [DONE]\n\n"
    finally:
        if record.state == "running":
            router.inferences.finish(record, state)
