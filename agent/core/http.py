"""Routing and request parsing shared by every subsystem's routes.

`api_route` builds a Starlette route that also carries what `/api/openapi.json` publishes
(summary, body model, query parameters, tag). `read_json` and `parse_query` turn bad input
into 400/413/415 in the standard format before any handler logic runs.

`parse_json` is the one JSON parser for request bodies: UTF-8 only, no NaN or Infinity (JSON
has neither; Python's json module accepts them and 1e999 becomes inf), and no nesting deeper
than `MAX_JSON_DEPTH`, checked before parsing because the decoder recurses and a body of
50 000 `[` would otherwise end in RecursionError (a 500) or in handlers that recurse too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

Model = TypeVar("Model", bound=BaseModel)
Endpoint = Callable[[Request], Awaitable[Response]]


MAX_JSON_DEPTH = 64
# Query integers beyond this are refused: SQLite stores 64-bit integers, and nothing in the
# API counts higher than a microsecond clock (event ids), far below 2**53.
MAX_QUERY_INT = 2**53

# A JSON string, escapes included; an unterminated one runs to the end, so one pass stays
# linear whatever the input (no retry from every later quote).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_TO_SQUARE = bytes.maketrans(b"{}", b"[]")
_RUN_TOO_DEEP = b"[" * (MAX_JSON_DEPTH + 1)
# Bodies above this are parsed in a worker thread: the depth check and the decoder are C
# loops that hold the event loop for their whole length otherwise.
OFFLOAD_BYTES = 64 * 1024


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
    # The model of a successful JSON answer (what the OpenAPI document publishes).
    answer: type[BaseModel] | None = None


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
    answer: type[BaseModel] | None = None,
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
        answer=answer,
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


def too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than `limit`, without recursion.

    Strings are cut out, then only brackets kept (both kinds as `[]`: a mismatch is the
    parser's to report). Each pass of removing `[]` takes exactly one level off every
    balanced group, at C speed, so a `[]` left after `limit` passes means a deeper group.
    What else can remain is unmatched: closers first (the parser fails there, no deeper than
    the groups before them) or openers never closed (deep if they and what they hold are).
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    rest = _JSON_STRING.sub(b"", raw).translate(_TO_SQUARE, _NOT_BRACKETS)
    if _RUN_TOO_DEEP in rest:  # the common attack, found without a single pass
        return True
    passes = 0
    while passes < limit:
        peeled = rest.replace(b"[]", b"")
        if len(peeled) == len(rest):
            break
        rest, passes = peeled, passes + 1
    if b"[]" in rest:
        return True
    if rest.startswith(b"]"):
        return False
    return len(rest) + passes > limit


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def parse_json(raw: bytes) -> Any:
    """The request body as JSON, or 400 INVALID_JSON in the standard format."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the JSON body is not valid UTF-8", code="INVALID_JSON") from None
    if too_deep(raw):
        raise BadRequest(
            f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
            code="INVALID_JSON",
            details={"max_depth": MAX_JSON_DEPTH},
        )
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BadRequest(f"malformed JSON body: {exc}", code="INVALID_JSON") from None
    # `\ud800` decodes to a lone surrogate, which is no character: it would fail later, when
    # written to the database or a subprocess. Only bodies with such an escape are walked.
    if (b"\\ud" in raw or b"\\uD" in raw) and _has_lone_surrogate(data):
        raise BadRequest("the JSON body holds an unpaired \\u surrogate", code="INVALID_JSON")
    return data


def _has_lone_surrogate(data: Any) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def peer_answer(raw: bytes) -> dict[str, Any] | None:
    """A JSON object answered by a member or a backend, or None when it is anything else:
    an answer is as hostile as a request, so it gets the same depth and value checks."""
    try:
        data = parse_json(raw)
    except BadRequest:
        return None
    return data if isinstance(data, dict) else None


async def decode_json(raw: bytes) -> Any:
    """`parse_json` without holding the event loop for a large body."""
    if len(raw) <= OFFLOAD_BYTES:
        return parse_json(raw)
    return await anyio.to_thread.run_sync(parse_json, raw)


async def read_json_value(request: Request, limit: int | None = None) -> Any:
    """The body parsed by `parse_json` (an empty body is `{}`), any JSON type."""
    content_type = request.headers.get("content-type", "application/json")
    if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
        raise UnsupportedMediaType(
            f"expected a JSON body (Content-Type: application/json), got {content_type}"
        )
    raw = await read_body(request, limit or request.app.state.settings.max_body_bytes)
    return await decode_json(raw) if raw.strip() else {}


async def read_json(request: Request, model: type[Model]) -> Model:
    data = await read_json_value(request)
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
    parsed = validate(model, dict(request.query_params), strict=False)
    for name, value in parsed:
        if isinstance(value, int) and not isinstance(value, bool):
            _check_query_int(name, value)
    return parsed


def _check_query_int(name: str, value: int) -> int:
    """Refuse integers no route can mean, before they overflow a database column."""
    if abs(value) > MAX_QUERY_INT:
        raise BadRequest(
            f"query parameter {name} is out of range (at most {MAX_QUERY_INT})",
            details={"fields": [{"field": name, "message": "out of range"}]},
        )
    return value


def bounded_int(
    raw: str, name: str, *, minimum: int = -MAX_QUERY_INT, maximum: int = MAX_QUERY_INT
) -> int:
    """A decimal integer from a query value or header, within [minimum, maximum], else 400."""
    text = raw.strip()
    digits = text[1:] if text.startswith("-") else text
    # isascii: str.isdigit() also accepts digits like '²' that int() refuses.
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
        raise BadRequest(f"{name} must be an integer, got {raw[:40]!r}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; a wire model is serialised by its own (compiled) serializer."""
    if isinstance(data, BaseModel):
        body = data.__pydantic_serializer__.to_json(data)
        return Response(body, status_code=status, headers=headers, media_type="application/json")
    return JSONResponse(data, status_code=status, headers=headers)
