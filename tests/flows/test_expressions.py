"""Expressions: templates keep types and interpolate, conditions give bools, every failure is
an ExpressionError naming the expression, and nothing escapes or hangs the evaluator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.flows.expressions import (
    ExpressionError,
    compile_condition,
    compile_template,
    pruned,
)
from agent.flows.sandbox import SANDBOX

SCOPE: dict[str, Any] = {
    "inputs": {"n": 3, "name": "Ada", "items": [1, 2, 3], "opt": None, "ratio": 0.5},
    "steps": {
        "fetch": {
            "outputs": {"body": "hello", "json": {"a": [1, {"b": True}]}},
            "state": "succeeded",
            "error": None,
        },
    },
    "trigger": {"kind": "manual", "at": 10.0},
    "run": {"id": "r1", "attempt": 1, "date": "2024-05-01"},
    "now": 100.5,
}


@pytest.fixture
def quick_sandbox() -> Iterator[None]:
    before = SANDBOX.timeout_s
    SANDBOX.timeout_s = 1.0
    yield
    SANDBOX.timeout_s = before


def render(value: Any, scope: dict[str, Any] = SCOPE) -> Any:
    return compile_template(value).render(scope)


def test_a_lone_expression_keeps_its_type() -> None:
    assert render("${{ inputs.n }}") == 3
    assert render("  ${{ inputs.ratio }}  ") == "  0.5  "
    assert render("${{inputs.items}}") == [1, 2, 3]
    assert render("${{ steps.fetch.outputs.json }}") == {"a": [1, {"b": True}]}
    assert render("${{ inputs.opt }}") is None
    assert render("${{ inputs.n > 2 }}") is True


def test_text_around_expressions_interpolates() -> None:
    assert render("n=${{ inputs.n }}, ${{ inputs.name }}!") == "n=3, Ada!"
    assert render("[${{ inputs.opt }}]") == "[]"
    assert render("${{ steps.fetch.outputs.json }} ok") == '{"a":[1,{"b":true}]} ok'
    assert render("${{ inputs.n > 2 }}/${{ inputs.items }}") == "true/[1,2,3]"
    assert render("${{ {'a': {'b': 1}}.a.b }}") == 1


def test_nested_templates_and_plain_values() -> None:
    value = {
        "url": "https://x/${{ inputs.name }}",
        "list": ["${{ inputs.n * 2 }}", 4, None],
        "flag": True,
    }
    assert render(value) == {"url": "https://x/Ada", "list": [6, 4, None], "flag": True}
    assert render({"a": "no expressions", "b": 1.5}) == {"a": "no expressions", "b": 1.5}
    assert compile_template({"a": "text"}).is_literal
    assert not compile_template(["${{ 1 }}"]).is_literal


def test_references_are_the_dotted_paths_read() -> None:
    template = compile_template(
        {"a": "${{ steps.fetch.outputs.body + inputs.name }}", "b": "${{ steps['fetch'].state }}"}
    )
    assert template.references == {
        ("steps", "fetch", "outputs", "body"),
        ("inputs", "name"),
        ("steps", "fetch", "state"),
    }
    condition = compile_condition("inputs.items.map(x, x * 2).size() > 1 && size(inputs.name) > 0")
    assert condition.references == {("inputs", "items"), ("inputs", "name")}
    assert compile_condition("'steps.x' == trigger.kind").references == {("trigger", "kind")}


def test_conditions_bare_or_wrapped() -> None:
    assert compile_condition("inputs.n == 3").holds(SCOPE) is True
    assert compile_condition("${{ inputs.n == 4 }}").holds(SCOPE) is False
    with pytest.raises(ExpressionError, match="gives int, not true or false"):
        compile_condition("inputs.n").holds(SCOPE)


def test_missing_keys_and_has() -> None:
    with pytest.raises(ExpressionError, match=r"`inputs.nope`: no such key 'nope'"):
        render("${{ inputs.nope }}")
    assert render("${{ has(inputs.nope) }}") is False
    assert render("${{ has(steps.fetch.outputs.body) ? 'yes' : 'no' }}") == "yes"
    assert render("${{ has(steps.fetch.outputs.gone) ? 1 : 2 }}") == 2
    with pytest.raises(ExpressionError, match="unknown name 'unknown'"):
        render("${{ unknown.x }}")


def test_evaluation_errors_name_the_expression() -> None:
    with pytest.raises(ExpressionError, match=r"`inputs.n / 0`: division by zero"):
        render("${{ inputs.n / 0 }}")
    with pytest.raises(ExpressionError, match=r"`inputs.n \+ inputs.name`"):
        render("${{ inputs.n + inputs.name }}")
    with pytest.raises(ExpressionError, match="does not compile: column"):
        compile_template("${{ inputs.n + }}")
    with pytest.raises(ExpressionError, match="is not closed"):
        compile_template("${{ inputs.n ")
    with pytest.raises(ExpressionError, match="empty"):
        compile_template("${{ }}")


def test_string_functions() -> None:
    assert render("${{ '  Ab '.trim().lowerAscii() }}") == "ab"
    assert render("${{ inputs.name.startsWith('A') && inputs.name.contains('d') }}") is True
    assert render("${{ 'a,b'.split(',') }}") == ["a", "b"]
    assert render("${{ string(inputs.n) + 'x' }}") == "3x"
    assert render("${{ inputs.name.matches('^A.a$') }}") is True
    assert render("${{ timestamp('2024-01-01T00:00:00Z') }}").startswith("2024-01-01T00:00:00")


def test_only_what_is_read_is_sent() -> None:
    scope: dict[str, Any] = {
        "inputs": {"a": 1, "b": 2},
        "steps": {"s": {"outputs": {"x": 1, "y": 2}, "state": "ok"}},
    }
    paths = frozenset(
        {("inputs", "a"), ("steps", "s", "outputs", "x"), ("steps", "s"), ("gone", "x")}
    )
    assert pruned(scope, paths) == {"inputs": {"a": 1}, "steps": {"s": scope["steps"]["s"]}}
    assert pruned(scope, frozenset({("inputs", "a", "deeper"), ("inputs", "zz")})) == {
        "inputs": {"a": 1}
    }
    assert scope["inputs"] == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "inputs.__class__",
        "inputs['__class__']",
        "inputs.name.__len__()",
        "eval('1')",
        "exec('x = 1')",
        "open('/etc/passwd')",
    ],
)
def test_escape_attempts_fail(source: str) -> None:
    with pytest.raises(ExpressionError):
        render("${{ " + source + " }}")


def test_deep_nesting_and_long_expressions_are_refused() -> None:
    with pytest.raises(ExpressionError, match="nests deeper than 32"):
        compile_template("${{ " + "(" * 200 + "1" + ")" * 200 + " }}")
    with pytest.raises(ExpressionError, match="nests deeper"):
        compile_condition("[" * 1500 + "]" * 1500)
    with pytest.raises(ExpressionError, match="longer than 4000"):
        compile_template("${{ " + "+".join(["1"] * 3000) + " }}")
    assert render("${{ " + "-" * 3000 + "1 }}") == 1


@pytest.mark.usefixtures("quick_sandbox")
def test_runaway_work_is_bounded_and_the_evaluator_recovers() -> None:
    items = "[" + ",".join(["1"] * 300) + "]"
    nested = f"${{{{ {items}.map(a, {items}.map(b, {items}.map(c, inputs.name + inputs.name))) }}}}"
    with pytest.raises(ExpressionError, match=r"took too long|too much memory"):
        render(nested)
    building = "${{ lists.range(5000000).map(x, inputs.name + inputs.name).size() }}"
    with pytest.raises(ExpressionError):
        render(building)
    assert render("${{ inputs.n + 1 }}") == 4


def test_values_over_256_kib_are_refused() -> None:
    scope = {"inputs": {"s": "x" * 200_000}}
    with pytest.raises(ExpressionError, match="larger than 256 KiB"):
        render("${{ inputs.s + inputs.s }}", scope)
    with pytest.raises(ExpressionError, match="larger than 256 KiB"):
        render({"a": "${{ inputs.s }}", "b": "${{ inputs.s }}"}, scope)
    assert len(render("${{ inputs.s }}", scope)) == 200_000


def test_no_eval_or_exec_in_the_expression_code() -> None:
    package = Path(__file__).parents[2] / "agent" / "flows"
    for name in ("expressions.py", "cel_text.py", "sandbox.py", "sandbox_worker.py"):
        text = (package / name).read_text()
        assert "eval(" not in text, name
        assert "exec(" not in text, name
