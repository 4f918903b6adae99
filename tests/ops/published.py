"""Check real answers against what the agent publishes in `/api/openapi.json`."""

from __future__ import annotations

from typing import Any

import jsonschema_rs


def answer_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The published schema of the route's successful JSON answer (it must have one)."""
    operation = spec["paths"][path][method.lower()]
    ok = [status for status in operation["responses"] if status.startswith("2")]
    assert len(ok) == 1, (method, path, ok)
    media = operation["responses"][ok[0]]["content"]["application/json"]
    assert "schema" in media, f"{method} {path} declares no answer model"
    return {**media["schema"], "components": spec["components"]}


def problems(spec: dict[str, Any], method: str, path: str, body: Any) -> list[str]:
    """Where `body` breaks the route's published answer schema (empty: it matches)."""
    validator = jsonschema_rs.validator_for(answer_schema(spec, method, path))
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)
    ]


def assert_matches(spec: dict[str, Any], method: str, path: str, body: Any) -> None:
    found = problems(spec, method, path, body)
    assert found == [], f"{method} {path}: {found[:5]}"
