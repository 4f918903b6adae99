"""Expressions in flow definitions: CEL (https://cel.dev), compiled when a flow is saved and
evaluated when its steps run.

A string in a step's `with` or in `outputs` is a template: `${{ expr }}` alone keeps the
value's type (`${{ inputs.n }}` is an int), text around expressions interpolates them
(dicts and lists as compact JSON, null as ""). `if:` and event filters are conditions,
written bare (`x == 1`) or wrapped (`${{ x == 1 }}`), that must give a bool.

The scope a run evaluates in: `inputs` (name -> value), `trigger` ({kind, at, ...payload}),
`steps` (id -> {outputs, state, error}), `run` ({id, attempt, started_at, date}), `flow`
({id, name}), `now` (seconds). An event filter sees only `event` ({topic, id, data}).
Scope values must be JSON values. Evaluation happens in a bounded worker process
(agent/flows/sandbox.py): an expression cannot reach anything but its scope, and one that
runs too long or builds too much fails instead of hanging the agent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.flows import cel_text
from agent.flows.definition import MAX_EXPRESSION
from agent.flows.sandbox import SANDBOX, EvaluationFailed

MAX_RESULT_BYTES = 256 * 1024
Path = tuple[str, ...]


class ExpressionError(ValueError):
    """An expression that does not compile or fails to evaluate; the message names it."""


def _shown(source: str) -> str:
    text = " ".join(source.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _compile_error(source: str, error: ValueError) -> ExpressionError:
    message = str(error)
    if "ERROR: <input>:" in message:
        where, _, rest = message.split("ERROR: <input>:", 1)[1].partition(": ")
        column = where.split(":")[-1]
        message = f"column {column}: {rest.splitlines()[0]}"
    return ExpressionError(f"`{_shown(source)}` does not compile: {message[:300]}")


def _failure_text(kind: str, message: str) -> str:
    if kind == "KeyError":
        return f"no such key {message}"
    if kind == "RuntimeError" and "Undefined variable or function:" in message:
        name = message.split(":", 1)[1].split(".")[0].strip()
        return f"unknown name {name}"
    if kind == "ZeroDivisionError":
        return "division by zero"
    if kind == "Timeout":
        return "took too long to evaluate"
    if kind == "Crashed":
        return "used too much memory or crashed the evaluator"
    if kind == "Unavailable":
        return "the expression evaluator could not be started"
    if kind == "TooLarge":
        return f"its value is larger than {MAX_RESULT_BYTES // 1024} KiB"
    first = message.split(". ")[0].strip().rstrip(".")
    return first[:300] or kind


class Expression:
    """One compiled CEL expression."""

    def __init__(self, source: str) -> None:
        source = source.strip()
        if not source:
            raise ExpressionError("an expression is empty")
        if len(source) > MAX_EXPRESSION:
            raise ExpressionError(f"`{_shown(source)}` is longer than {MAX_EXPRESSION} characters")
        found = cel_text.tokens(source)
        if cel_text.nesting(found) > cel_text.MAX_NESTING:
            raise ExpressionError(
                f"`{_shown(source)}` nests deeper than {cel_text.MAX_NESTING} brackets"
            )
        # Imported with the first expression: the package also loads its own REPL (typer,
        # rich, prompt_toolkit; about 25 MB) that a node without flows need not carry.
        import cel

        try:
            cel.compile(source)
        except ValueError as error:
            raise _compile_error(source, error) from None
        self.source = source
        self.references = cel_text.references(found)

    def failure(self, kind: str, message: str) -> ExpressionError:
        return ExpressionError(f"`{_shown(self.source)}`: {_failure_text(kind, message)}")


def _evaluate(expressions: list[Expression], scope: Mapping[str, Any]) -> list[Any]:
    if not expressions:
        return []
    paths = frozenset().union(*(e.references for e in expressions))
    try:
        return SANDBOX.evaluate(
            [e.source for e in expressions], pruned(scope, paths), MAX_RESULT_BYTES
        )
    except EvaluationFailed as failed:
        raise expressions[failed.index].failure(failed.kind, failed.message) from None


def pruned(scope: Mapping[str, Any], paths: frozenset[Path]) -> dict[str, Any]:
    """The parts of `scope` that `paths` read (a path that leaves the scope stops there, so
    `has()` and missing keys answer as they would over the whole scope)."""
    widest = {p for p in paths if not any(p[:n] in paths for n in range(1, len(p)))}
    kept: dict[str, Any] = {}
    for path in widest:
        source: Any = scope
        target = kept
        for depth, key in enumerate(path):
            if not isinstance(source, Mapping) or key not in source:
                break
            source = source[key]
            if depth == len(path) - 1 or not isinstance(source, Mapping):
                target[key] = source
                break
            target = target.setdefault(key, {})
    return kept


def _interpolated(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@dataclass(frozen=True)
class _Text:
    parts: tuple[str | Expression, ...]  # one Expression alone: the value keeps its type


def _compile_text(text: str) -> _Text | str:
    spans = cel_text.expression_spans(text)
    if spans is None:
        raise ExpressionError(f"`{_shown(text)}`: a `${{{{` is not closed by `}}}}`")
    if not spans:
        return text
    parts: list[str | Expression] = []
    position = 0
    for start, end in spans:
        if start > position:
            parts.append(text[position:start])
        parts.append(Expression(text[start + 3 : end - 2]))
        position = end
    if position < len(text):
        parts.append(text[position:])
    return _Text(tuple(parts))


def _walk(value: Any, found: list[Expression]) -> Any:
    if isinstance(value, str):
        compiled = _compile_text(value)
        if isinstance(compiled, _Text):
            found.extend(p for p in compiled.parts if isinstance(p, Expression))
        return compiled
    if isinstance(value, dict):
        return {key: _walk(item, found) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, found) for item in value]
    return value


def _build(node: Any, values: dict[int, Any]) -> Any:
    if isinstance(node, _Text):
        if len(node.parts) == 1 and isinstance(node.parts[0], Expression):
            return values[id(node.parts[0])]
        return "".join(
            _interpolated(values[id(p)]) if isinstance(p, Expression) else p for p in node.parts
        )
    if isinstance(node, dict):
        return {key: _build(item, values) for key, item in node.items()}
    if isinstance(node, list):
        return [_build(item, values) for item in node]
    return node


class Template:
    """A JSON-like value whose strings may hold `${{ ... }}` expressions."""

    def __init__(self, value: Any) -> None:
        self._expressions: list[Expression] = []
        self._tree = _walk(value, self._expressions)
        self.references: frozenset[Path] = frozenset().union(
            *(e.references for e in self._expressions)
        )

    @property
    def is_literal(self) -> bool:
        """True when it holds no expression (its value is known without a run)."""
        return not self._expressions

    def render(self, scope: Mapping[str, Any]) -> Any:
        results = _evaluate(self._expressions, scope)
        value = _build(
            self._tree, {id(e): v for e, v in zip(self._expressions, results, strict=True)}
        )
        if self._expressions and len(json.dumps(value, default=str)) > MAX_RESULT_BYTES:
            raise ExpressionError(f"the value is larger than {MAX_RESULT_BYTES // 1024} KiB")
        return value


class Condition:
    """A CEL expression that must give a bool."""

    def __init__(self, text: str) -> None:
        source = text.strip()
        spans = cel_text.expression_spans(source)
        if spans == [(0, len(source))]:
            source = source[3:-2]
        self._expression = Expression(source)
        self.source = self._expression.source
        self.references: frozenset[Path] = self._expression.references

    def holds(self, scope: Mapping[str, Any]) -> bool:
        (value,) = _evaluate([self._expression], scope)
        if not isinstance(value, bool):
            raise ExpressionError(
                f"`{_shown(self.source)}` gives {type(value).__name__}, not true or false"
            )
        return value


def compile_template(value: Any) -> Template:
    """Raises ExpressionError when an expression does not compile."""
    return Template(value)


def compile_condition(text: str) -> Condition:
    """`x == 1` or `${{ x == 1 }}`; raises ExpressionError when it does not compile."""
    return Condition(text)
