"""Checks of `flow.run` steps: the sub-flow exists, takes the inputs given, and does not run
the calling flow again, directly or through other flows."""

from __future__ import annotations

from collections.abc import Callable

from agent.flows.actions.params import OUTPUTS
from agent.flows.definition import FlowDefinition, Step

MAX_DEPTH = 8
Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
Lookup = Callable[[str], FlowDefinition | None]


def target(step: Step) -> str | None:
    """The sub-flow a flow.run step names, when it is written literally."""
    name = step.with_.get("flow")
    return name if isinstance(name, str) and "${{" not in name else None


def step_outputs(step: Step, lookup: Lookup | None) -> frozenset[str] | None:
    """The output names a step answers; None when they cannot be known on save."""
    names = OUTPUTS[step.uses]
    if names is not None or step.uses != "flow.run":
        return names
    name = target(step)
    found = lookup(name) if lookup is not None and name is not None else None
    return frozenset(found.outputs) if found is not None else None


def check_call(
    step: Step,
    loc: Loc,
    definition: FlowDefinition,
    lookup: Lookup | None,
    self_id: str | None,
) -> list[Problem]:
    name = target(step)
    if name is None:
        return []
    at: Loc = (*loc, "with", "flow")
    own = {definition.name, *([self_id] if self_id else [])}
    if name in own:
        return [(at, "a flow cannot run itself")]
    if lookup is None:
        return []
    found = lookup(name)
    if found is None:
        return [(at, f"unknown flow {name!r}")]
    if found.name == definition.name:
        return [(at, "a flow cannot run itself")]
    problems = _check_inputs(step, loc, found)
    chain = _cycle(found, own, lookup, [name], {found.name})
    if chain is not None and chain[-1] == "...":
        problems.append((at, f"sub-flows nest deeper than {MAX_DEPTH}: " + " -> ".join(chain)))
    elif chain is not None:
        problems.append((at, "the sub-flows run in a circle: " + " -> ".join(chain)))
    return problems


def _check_inputs(step: Step, loc: Loc, found: FlowDefinition) -> list[Problem]:
    given = step.with_.get("inputs")
    if not isinstance(given, dict):
        return []
    known = ", ".join(found.inputs) or "none"
    return [
        (
            (*loc, "with", "inputs", key, "[key]"),
            f"{found.name!r} has no input `{key}`; it has {known}",
        )
        for key in given
        if key not in found.inputs
    ]


def _cycle(
    flow: FlowDefinition, own: set[str], lookup: Lookup, chain: list[str], seen: set[str]
) -> list[str] | None:
    """The chain of flows leading back to `own` (ending in "..." when it goes deeper than
    MAX_DEPTH); None when there is none. Each flow is followed once."""
    for step in flow.steps:
        name = target(step) if step.uses == "flow.run" else None
        if name is None:
            continue
        found = None if name in own else lookup(name)
        if name in own or (found is not None and found.name in own):
            return [*chain, name]
        if found is None or found.name in seen:
            continue
        if len(chain) >= MAX_DEPTH:
            return [*chain, name, "..."]
        seen.add(found.name)
        deeper = _cycle(found, own, lookup, [*chain, name], seen)
        if deeper is not None:
            return deeper
    return None
