"""A run's inputs checked against the flow's `inputs`: known names only, types as declared,
enums honoured, defaults filled in, required ones given. Refusals are 400 FLOW_INPUT_INVALID
with every problem at once."""

from __future__ import annotations

import json
from typing import Any

from agent.core.errors import BadRequest
from agent.flows.definition import FlowDefinition, InputSpec
from agent.flows.models import MAX_RUN_INPUTS_BYTES


class InputInvalid(BadRequest):
    code = "FLOW_INPUT_INVALID"


def _type_ok(spec: InputSpec, value: Any) -> bool:
    if value is None:
        return False
    match spec.type:
        case "string":
            return isinstance(value, str)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)


def required(spec: InputSpec) -> bool:
    return spec.required if spec.required is not None else spec.default is None


def check_inputs(definition: FlowDefinition, given: dict[str, Any]) -> dict[str, Any]:
    """The run's inputs, completed with defaults; InputInvalid listing every problem."""
    problems: list[dict[str, str]] = []
    if len(json.dumps(given, default=str)) > MAX_RUN_INPUTS_BYTES:
        raise InputInvalid(
            f"inputs are larger than {MAX_RUN_INPUTS_BYTES} bytes as JSON",
            details={"errors": [{"input": "(all)", "message": "too large"}]},
        )
    for name in given:
        if name not in definition.inputs:
            problems.append({"input": name, "message": "the flow has no such input"})
    inputs: dict[str, Any] = {}
    for name, spec in definition.inputs.items():
        if name not in given:
            if required(spec):
                problems.append({"input": name, "message": "is required"})
            else:
                inputs[name] = spec.default
            continue
        value = given[name]
        if not _type_ok(spec, value):
            problems.append({"input": name, "message": f"must be of type {spec.type}"})
        elif spec.enum is not None and value not in spec.enum:
            allowed = ", ".join(json.dumps(v) for v in spec.enum)
            problems.append({"input": name, "message": f"must be one of {allowed}"})
        else:
            inputs[name] = value
    if problems:
        summary = "; ".join(f"{p['input']}: {p['message']}" for p in problems)
        raise InputInvalid(f"invalid inputs: {summary}", details={"errors": problems})
    return inputs
