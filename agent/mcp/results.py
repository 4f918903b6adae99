"""Tool arguments checked against the tool's input schema, and results turned into text a
model (or a person) can read, within MAX_TOOL_RESULT_CHARS."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import mcp_types as types
from jsonschema.exceptions import (
    SchemaError,
    ValidationError,
)

from agent.core.toolbox import MAX_TOOL_RESULT_CHARS

MAX_SCHEMA_ERRORS = 10
MAX_CONTENT_JSON = 4 * MAX_TOOL_RESULT_CHARS


def argument_errors(schema: dict[str, Any], arguments: dict[str, Any]) -> list[dict[str, str]]:
    """What is wrong with `arguments` for `schema` (empty when they fit). A schema the
    validator cannot read is not the caller's fault: the server decides then."""
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator = validator_class(schema)
        found = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    except (SchemaError, TypeError, ValueError, RecursionError):
        return []
    return [_error(e) for e in found[:MAX_SCHEMA_ERRORS]]


def _error(error: ValidationError) -> dict[str, str]:
    field = ".".join(str(p) for p in error.absolute_path) or "(arguments)"
    return {"field": field, "message": error.message[:500]}


def summarise_errors(errors: list[dict[str, str]]) -> str:
    return "invalid arguments: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)


def bounded(text: str) -> str:
    if len(text) <= MAX_TOOL_RESULT_CHARS:
        return text
    marker = f"\n[truncated: {len(text) - MAX_TOOL_RESULT_CHARS} more characters]"
    return text[: MAX_TOOL_RESULT_CHARS - len(marker)] + marker


def result_text(result: types.CallToolResult) -> str:
    parts = [_block_text(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    return bounded("\n".join(parts))


def _block_text(block: types.ContentBlock) -> str:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        kind = "image" if isinstance(block, types.ImageContent) else "audio"
        return f"[{kind}: {block.mime_type}, {len(block.data) * 3 // 4} bytes]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return resource.text
        return f"[resource: {resource.uri}, {resource.mime_type or 'binary'}]"
    return f"[resource link: {block.uri}]"


def structured(result: types.CallToolResult) -> dict[str, Any] | None:
    value = result.structured_content
    if not isinstance(value, dict):
        return None
    if len(json.dumps(value, default=str)) > MAX_TOOL_RESULT_CHARS:
        return None
    return value


def content_json(result: types.CallToolResult) -> list[dict[str, Any]]:
    """The content blocks as JSON, dropped beyond a bound (the text still says what they were)."""
    blocks: list[dict[str, Any]] = []
    size = 0
    for block in result.content:
        dumped = block.model_dump(mode="json", by_alias=True, exclude_none=True)
        size += len(json.dumps(dumped))
        if size > MAX_CONTENT_JSON:
            break
        blocks.append(dumped)
    return blocks
