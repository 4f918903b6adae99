"""A definition's text -> a checked FlowDefinition, or every problem with its line and column.

Three passes, all reported together: the syntax (YAML or JSON, bounded: agent/flows/locate.py),
the shape (FlowDefinition's schema; each pydantic error placed at the node its `loc` names)
and the meaning (agent/flows/checks.py: expressions, references, sub-flows, schedules).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.core.errors import BadRequest
from agent.flows import checks
from agent.flows.definition import ACTIONS, TRIGGER_KINDS, FlowDefinition
from agent.flows.locate import Loc, Located, Place, SourceError, read_json, read_yaml
from agent.flows.models import DefinitionError, SourceFormat

MAX_SOURCE_BYTES = 256 * 1024
KEY = "[key]"  # a loc ending so names the key itself, not its value
Lookup = Callable[[str], FlowDefinition | None]


class DefinitionInvalid(BadRequest):
    code = "FLOW_INVALID"

    def __init__(self, errors: list[DefinitionError]) -> None:
        first = errors[0]
        where = f"line {first.line}, column {first.column}: " if first.line else ""
        label = f"{first.path}: " if first.path else ""
        count = "1 error" if len(errors) == 1 else f"{len(errors)} errors"
        super().__init__(
            f"the flow definition has {count} (first: {where}{label}{first.message})",
            details={"errors": [e.model_dump() for e in errors]},
        )
        self.errors = errors


@dataclass(frozen=True)
class Parsed:
    definition: FlowDefinition
    source: str
    format: SourceFormat


def path_text(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _has(value: Any, part: Any) -> bool:
    if isinstance(value, dict):
        return isinstance(part, str) and part in value
    return isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)


def _resolve(loc: tuple[Any, ...], value: Any, tagged: bool) -> tuple[Loc, bool]:
    """`loc` with what does not name a key or index of `value` dropped (union tags, `[key]`);
    True when it ends on a key."""
    if tagged and len(loc) > 2 and loc[0] == "triggers" and loc[2] in TRIGGER_KINDS:
        loc = loc[:2] + loc[3:]  # the union's tag, not a key
    kept: list[str | int] = []
    on_key = False
    for index, part in enumerate(loc):
        if part == KEY:
            on_key = True
        elif _has(value, part):
            kept.append(part)
            value = value[part]
        elif isinstance(value, dict) and index == len(loc) - 1:
            kept.append(part)  # a missing key: named, placed at its mapping
            value = None
    return tuple(kept), on_key


def _place(loc: Loc, on_key: bool, found: Located) -> Place | None:
    if on_key and loc in found.keys:
        return found.keys[loc]
    for end in range(len(loc), -1, -1):
        if loc[:end] in found.values:
            return found.values[loc[:end]]
    return None


def _error(
    loc: tuple[Any, ...], message: str, found: Located, *, key: bool = False, tagged: bool = False
) -> DefinitionError:
    resolved, on_key = _resolve(loc, found.value, tagged)
    line_column = _place(resolved, on_key or key, found)
    line, column = line_column if line_column else (None, None)
    return DefinitionError(line=line, column=column, path=path_text(resolved), message=message)


def _shape_message(error: Any) -> tuple[str, bool]:
    kind, loc, message = error["type"], error["loc"], str(error["msg"])
    if kind == "missing":
        return f"`{loc[-1]}` is required", False
    if kind == "extra_forbidden":
        return f"unknown key `{loc[-1]}`", True
    if kind == "literal_error" and loc and loc[-1] == "uses":
        return f"unknown action {error['input']!r}; one of {', '.join(ACTIONS)}", False
    return message.removeprefix("Value error, "), False


def _source_error(error: SourceError) -> DefinitionError:
    line, column = error.place if error.place else (None, None)
    return DefinitionError(line=line, column=column, path="", message=error.message)


def _sorted(errors: list[DefinitionError]) -> list[DefinitionError]:
    return sorted(errors, key=lambda e: (e.line or 1 << 30, e.column or 0, e.path))


def parse_definition(
    text: str, fmt: SourceFormat, lookup: Lookup | None = None, self_id: str | None = None
) -> Parsed:
    """Raises DefinitionInvalid with every error found, sorted by line."""
    if len(text.encode()) > MAX_SOURCE_BYTES:
        raise DefinitionInvalid(
            [DefinitionError(line=1, column=1, path="", message="longer than 256 KiB")]
        )
    try:
        found = read_json(text) if fmt == "json" else read_yaml(text)
    except SourceError as error:
        raise DefinitionInvalid([_source_error(error)]) from None
    if not isinstance(found.value, dict):
        raise DefinitionInvalid([_error((), "the definition must be a mapping", found)])
    try:
        definition = FlowDefinition.model_validate(found.value, by_alias=True)
    except ValidationError as invalid:
        errors = []
        for item in invalid.errors():
            message, key = _shape_message(item)
            errors.append(_error(item["loc"], message, found, key=key, tagged=True))
        raise DefinitionInvalid(_sorted(errors)) from None
    problems = checks.check(definition, lookup=lookup, self_id=self_id)
    if problems:
        raise DefinitionInvalid(_sorted([_error(loc, m, found) for loc, m in problems]))
    return Parsed(definition=definition, source=text, format=fmt)


def definition_schema() -> dict[str, Any]:
    """The JSON Schema of a definition (keys by their names in the text: `with`, `if`)."""
    return FlowDefinition.model_json_schema(by_alias=True)
