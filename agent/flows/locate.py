"""Definition text -> plain values, remembering where every value and key starts.

YAML is read with PyYAML's safe parser into a node tree, bounded before it is composed (no
anchors or aliases, at most MAX_NODES nodes and MAX_DEPTH levels), and the values are built
here from the nodes: only strings, numbers, booleans, null, lists and mappings. Plain
scalars follow YAML 1.2's core schema, so `on:` stays a key and `yes`, `1:30` or
`2024-01-01` stay strings. JSON is checked with the json module (its line and column on a
syntax error), then placed through the same tree, JSON being YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_NODES = 20_000
MAX_DEPTH = 64
Loc = tuple[str | int, ...]
Place = tuple[int, int]
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_STR_TAG = "tag:yaml.org,2002:str"
_ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")} | {
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
    "!",
}


class SourceError(Exception):
    """The text cannot be read; `place` is (line, column), from 1."""

    def __init__(self, message: str, place: Place | None) -> None:
        super().__init__(message)
        self.message, self.place = message, place


@dataclass
class Located:
    value: Any
    values: dict[Loc, Place] = field(default_factory=dict)
    keys: dict[Loc, Place] = field(default_factory=dict)


def _place(mark: Any) -> Place:
    return (mark.line + 1, mark.column + 1)


def _check_events(text: str) -> None:
    nodes = depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise SourceError("aliases are not allowed", _place(event.start_mark))
            if not isinstance(event, yaml.NodeEvent):
                if isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
                continue
            nodes += 1
            if event.anchor is not None:
                raise SourceError("anchors are not allowed", _place(event.start_mark))
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _ALLOWED_TAGS:
                raise SourceError(f"the tag {tag} is not allowed", _place(event.start_mark))
            if nodes > MAX_NODES:
                raise SourceError(f"more than {MAX_NODES} values", _place(event.start_mark))
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise SourceError(
                        f"nested deeper than {MAX_DEPTH} levels", _place(event.start_mark)
                    )
    except yaml.MarkedYAMLError as error:
        raise _yaml_error(error) from None
    except yaml.YAMLError as error:
        raise SourceError(f"not valid YAML: {error}", None) from None


def _yaml_error(error: yaml.MarkedYAMLError) -> SourceError:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or "not valid YAML"
    if error.context:
        problem = f"{problem} ({error.context})"
    return SourceError(f"YAML: {problem}", _place(mark) if mark else None)


def _scalar(node: yaml.ScalarNode) -> Any:
    text = node.value
    if node.tag == _STR_TAG:
        return text
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _build(node: yaml.Node, loc: Loc, found: Located) -> Any:
    found.values[loc] = _place(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError("a key must be a plain value", _place(key_node.start_mark))
            key = str(key_node.value)
            if key in mapping:
                raise SourceError(f"the key `{key}` is given twice", _place(key_node.start_mark))
            found.keys[(*loc, key)] = _place(key_node.start_mark)
            mapping[key] = _build(value_node, (*loc, key), found)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, index), found) for index, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


def read_yaml(text: str) -> Located:
    _check_events(text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise _yaml_error(error) from None
    if root is None:
        raise SourceError("the definition is empty", (1, 1))
    found = Located(None)
    found.value = _build(root, (), found)
    return found


def read_json(text: str) -> Located:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceError(f"JSON: {error.msg}", (error.lineno, error.colno)) from None
    except RecursionError:
        raise SourceError(f"nested deeper than {MAX_DEPTH} levels", None) from None
    try:
        found = read_yaml(text)
    except SourceError as error:
        if error.place is None or "YAML" in error.message:
            return Located(value)  # valid JSON that YAML reads otherwise: no places
        raise
    return found if found.value == value else Located(value)
