"""Every JSON answer a test receives from an in-process agent is checked against the schema
the agent publishes for that route in `/api/openapi.json`.

`checked(app)` wraps an app; answers that do not validate (or JSON answers of routes that
declare no answer model) are collected in `VIOLATIONS`, which an autouse fixture turns into a
failure of the test that received them.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.ops.openapi import build_openapi

VIOLATIONS: list[str] = []
_VALIDATORS: dict[tuple[str, str], Any] = {}


def _validator(route: Route) -> Any:
    key = (route.path, route.name)
    if key not in _VALIDATORS:
        doc = route.doc  # type: ignore[attr-defined]
        spec = build_openapi([route], "check")
        name = doc.answer.__name__
        schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
        _VALIDATORS[key] = jsonschema_rs.validator_for(schema)
    return _VALIDATORS[key]


def _route_of(routes: list[Any], scope: Scope) -> Route | None:
    for route in routes:
        if isinstance(route, Route) and getattr(route, "doc", None) is not None:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route
    return None


class SchemaCheck:
    def __init__(self, app: ASGIApp, routes_of: Any) -> None:
        self.app = app
        self.routes_of = routes_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/v1/")):
            await self.app(scope, receive, send)
            return
        status = 0
        is_json = False
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status, is_json
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                is_json = headers.get(b"content-type", b"").startswith(b"application/json")
            elif message["type"] == "http.response.body" and is_json and 200 <= status < 300:
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if is_json and 200 <= status < 300 and scope["method"] != "HEAD":
            self._check(scope, bytes(body))

    def _check(self, scope: Scope, body: bytes) -> None:
        route = _route_of(self.routes_of(), scope)
        where = f"{scope['method']} {scope['path']}"
        if route is None:
            return
        doc = route.doc  # type: ignore[attr-defined]
        if doc.answer is None:
            VIOLATIONS.append(f"{where}: answers JSON but declares no answer model")
            return
        errors = [
            f"{'/'.join(map(str, e.instance_path))}: {e.message}"
            for e in _validator(route).iter_errors(json.loads(body))
        ]
        if errors:
            VIOLATIONS.append(f"{where} does not match {doc.answer.__name__}: {errors[:5]}")


def checked(app: Any) -> Any:
    """Wrap the app's ASGI callable so every answer is checked."""
    inner = app.middleware_stack or app.build_middleware_stack()
    app.middleware_stack = SchemaCheck(inner, lambda: app.routes)
    return app
