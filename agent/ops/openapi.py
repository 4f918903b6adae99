"""`/api/openapi.json`: generated from the routes' own declarations (see core.http.api_route)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Route

from agent.core.http import RouteDoc

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?}")
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error", "error_code", "details"],
    "properties": {
        "success": {"type": "boolean", "const": False},
        "error": {"type": "string"},
        "error_code": {"type": "string"},
        "details": {"type": "object"},
    },
}


def _operation(route: Route, method: str, doc: RouteDoc) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]
    for q in doc.query:
        schema: dict[str, Any] = {"type": q.type}
        if q.enum:
            schema["enum"] = list(q.enum)
        params.append(
            {
                "name": q.name,
                "in": "query",
                "required": q.required,
                "description": q.description,
                "schema": schema,
            }
        )
    ok_content: dict[str, Any] = {}
    if doc.streams:
        ok_content["text/event-stream"] = {}
    if doc.answer is not None:
        # A streaming route with an answer model answers JSON when asked not to stream.
        ok_content["application/json"] = {"schema": {"$ref": REF.format(model=doc.answer.__name__)}}
    elif not doc.streams:
        ok_content["application/json"] = {}
    responses: dict[str, Any] = {str(doc.success): {"description": "OK", "content": ok_content}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for status, description in sorted({**doc.responses, 400: "VALIDATION_ERROR"}.items()):
        if status != doc.success:  # the success answer keeps its own schema
            responses[str(status)] = {"description": description, "content": error}
    if not doc.public:
        responses["401"] = {"description": "UNAUTHORIZED", "content": error}
    op: dict[str, Any] = {
        "summary": doc.summary,
        "tags": [doc.tag],
        "operationId": f"{method.lower()}_{route.name}_{doc.tag}".replace("-", "_"),
        "parameters": params,
        "responses": responses,
    }
    if doc.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": doc.body.model_json_schema()}},
        }
    if doc.public:
        op["security"] = []
    return op


def answer_schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """The serialisation schemas of every answer model (and the models they use), by name."""
    unique = {m.__name__: m for m in models}
    if not unique:
        return {}
    _, schema = models_json_schema(
        [(m, "serialization") for m in unique.values()], ref_template=REF
    )
    return dict(schema.get("$defs", {}))


def build_openapi(routes: list[BaseRoute], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    answers: list[type[BaseModel]] = []
    for route in routes:
        doc: RouteDoc | None = getattr(route, "doc", None)
        if not isinstance(route, Route) or doc is None:
            continue
        if doc.answer is not None:
            answers.append(doc.answer)
        path = _PARAM.sub(r"{\1}", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(route, method, doc)
    return {
        "openapi": "3.1.0",
        "info": {"title": "OpenFabric agent API", "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {**answer_schemas(answers), "Error": _ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
