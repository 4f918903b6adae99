"""Routing and request parsing shared by every subsystem's routes.

`api_route` builds a Starlette route that also carries what `/api/openapi.json` publishes
(summary, body model, query parameters, tag). `read_json` and `parse_query` turn bad input
into 400/413/415 in the standard format before any handler logic runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

Model = TypeVar("Model", bound=BaseModel)
Endpoint = Callable[[Request], Awaitable[Response]]


class StrictModel(BaseModel):
    """Base for request bodies: no type coercion, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: Sequence[QueryParam] = ()
    responses: dict[int, str] = field(default_factory=dict)
    streams: bool = False
    public: bool = False
    success: int = 200


def api_route(
    path: str,
    endpoint: Endpoint,
    *,
    methods: Sequence[str],
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    query: Sequence[QueryParam] = (),
    responses: dict[int, str] | None = None,
    streams: bool = False,
    public: bool = False,
    success: int = 200,
) -> Route:
    route = Route(path, endpoint, methods=list(methods))
    route.doc = RouteDoc(  # type: ignore[attr-defined]
        summary=summary,
        tag=tag,
        body=body,
        query=tuple(query),
        responses=responses or {},
        streams=streams,
        public=public,
        success=success,
    )
    return route


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number", code="BAD_REQUEST")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit} bytes", details={"limit": limit})


async def read_json(request: Request, model: type[Model]) -> Model:
    content_type = request.headers.get("content-type", "application/json")
    if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"expected a JSON body (Content-Type: application/json), got {content_type}"
        )
    limit: int = request.app.state.settings.max_body_bytes
    raw = await read_body(request, limit)
    try:
        data: Any = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON body: {exc}", code="INVALID_JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
    return validate(model, data)


def validate(model: type[Model], data: dict[str, Any], *, strict: bool | None = None) -> Model:
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise BadRequest(f"invalid request: {summary}", details={"fields": problems}) from None


def parse_query(request: Request, model: type[Model]) -> Model:
    """Query strings are text, so unlike bodies they are validated with coercion."""
    unknown = set(request.query_params) - set(model.model_fields)
    if unknown:
        raise BadRequest(f"unknown query parameter: {', '.join(sorted(unknown))}")
    return validate(model, dict(request.query_params), strict=False)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers=headers)
