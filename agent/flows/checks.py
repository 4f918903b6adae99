"""What a definition means, checked when it is saved: every expression compiles and reads
only what exists (declared inputs, earlier-declared steps and their outputs), every `goto`
lands on another step, schedules and timezones are real, input defaults fit, and sub-flows
exist without running in circles. Each problem comes with the pydantic-style loc of the
value it is about (a loc ending in "[key]" names the key), so it can be placed in the text.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ValidationError

from agent.flows import subflows
from agent.flows.actions.params import PARAMS
from agent.flows.definition import CronTrigger, EventTrigger, FlowDefinition, InputSpec, Step
from agent.flows.expressions import ExpressionError, compile_condition, compile_template

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
Lookup = Callable[[str], FlowDefinition | None]
KEY = "[key]"
RUN_ROOTS = ("inputs", "trigger", "steps", "run", "flow", "now")
STEP_FIELDS = ("outputs", "state", "error")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def check(
    definition: FlowDefinition, *, lookup: Lookup | None, self_id: str | None
) -> list[Problem]:
    problems: list[Problem] = []
    problems += _check_inputs(definition)
    problems += _check_triggers(definition)
    outputs = {s.id: subflows.step_outputs(s, lookup) for s in definition.steps}
    for index, step in enumerate(definition.steps):
        loc: Loc = ("steps", index)
        problems += _check_params(step, loc)
        reader = _Reader(definition, outputs, own=step.id)
        for key, value in step.with_.items():
            problems += reader.template(value, (*loc, "with", key))
        if step.if_ is not None:
            problems += reader.condition(step.if_, (*loc, "if"))
        if step.goto is not None and step.goto not in outputs:
            problems.append(((*loc, "on_error"), f"goto an unknown step `{step.goto}`"))
        elif step.goto == step.id:
            problems.append(((*loc, "on_error"), "a step cannot go to itself"))
        if step.uses == "flow.run":
            problems += subflows.check_call(step, loc, definition, lookup, self_id)
    reader = _Reader(definition, outputs, own=None)
    for name, value in definition.outputs.items():
        problems += reader.template(value, ("outputs", name))
    return problems


class _Reader:
    """Checks what expressions read, in a step (`own`) or in the flow's outputs."""

    def __init__(
        self,
        definition: FlowDefinition,
        outputs: dict[str, frozenset[str] | None],
        own: str | None,
    ) -> None:
        self.definition, self.outputs, self.own = definition, outputs, own
        self.uses = {s.id: s.uses for s in definition.steps}

    def template(self, value: Any, loc: Loc) -> list[Problem]:
        try:
            compiled = compile_template(value)
        except ExpressionError as error:
            return [(loc, str(error))]
        return [
            (loc, message) for path in sorted(compiled.references) for message in self._path(path)
        ]

    def condition(self, text: str, loc: Loc) -> list[Problem]:
        try:
            compiled = compile_condition(text)
        except ExpressionError as error:
            return [(loc, str(error))]
        return [
            (loc, message) for path in sorted(compiled.references) for message in self._path(path)
        ]

    def _path(self, path: tuple[str, ...]) -> list[str]:
        root = path[0]
        if root not in RUN_ROOTS:
            return [f"unknown name `{root}`; expressions read {', '.join(RUN_ROOTS)}"]
        if root == "inputs" and len(path) > 1 and path[1] not in self.definition.inputs:
            return [f"unknown input `{path[1]}`"]
        if root != "steps" or len(path) < 2:
            return []
        step = path[1]
        if step not in self.outputs:
            return [f"unknown step `{step}`"]
        if len(path) < 3:
            return []
        if path[2] not in STEP_FIELDS:
            return [f"steps.{step} has no `{path[2]}`; it has {', '.join(STEP_FIELDS)}"]
        if path[2] != "outputs":
            return []
        if step == self.own:
            return [f"step `{step}` cannot read its own outputs"]
        names = self.outputs[step]
        if len(path) > 3 and names is not None and path[3] not in names:
            uses = self.uses[step]
            listed = ", ".join(sorted(names)) or "none"
            return [f"step `{step}` ({uses}) has no output `{path[3]}`; it has {listed}"]
        return []


def _field_names(model: type[BaseModel]) -> dict[str, bool]:
    """Each parameter's name in `with` -> whether it is required."""
    return {(f.alias or name): f.is_required() for name, f in model.model_fields.items()}


def _check_params(step: Step, loc: Loc) -> list[Problem]:
    model = PARAMS[step.uses]
    fields = _field_names(model)
    problems: list[Problem] = []
    for key in step.with_:
        if key not in fields:
            known = ", ".join(fields) or "none"
            problems.append(
                ((*loc, "with", key, KEY), f"{step.uses} takes no `{key}`; it takes {known}")
            )
    for name, required in fields.items():
        if required and name not in step.with_:
            problems.append(((*loc, "with"), f"{step.uses} needs `{name}`"))
    if problems or not _literal(step.with_):
        return problems
    try:
        model.model_validate(step.with_)
    except ValidationError as invalid:
        for error in invalid.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(((*loc, "with", *error["loc"]), message))
    return problems


def _literal(value: Any) -> bool:
    try:
        return compile_template(value).is_literal
    except ExpressionError:
        return False


def _check_inputs(definition: FlowDefinition) -> list[Problem]:
    problems: list[Problem] = []
    for name, spec in definition.inputs.items():
        problems += _check_input(spec, ("inputs", name))
    return problems


def _fits(spec: InputSpec, value: Any) -> bool:
    if isinstance(value, bool) and spec.type != "boolean":
        return False
    return isinstance(value, _TYPES[spec.type])


def _check_input(spec: InputSpec, loc: Loc) -> list[Problem]:
    problems: list[Problem] = []
    for index, option in enumerate(spec.enum or []):
        if not _fits(spec, option):
            problems.append(
                (
                    (*loc, "enum", index),
                    f"not a{'n' if spec.type[0] in 'aeiou' else ''} {spec.type}",
                )
            )
    if spec.default is None:
        return problems
    if not _fits(spec, spec.default):
        problems.append(((*loc, "default"), f"the default is not of type {spec.type}"))
    elif spec.enum is not None and spec.default not in spec.enum:
        problems.append(((*loc, "default"), "the default is not one of `enum`"))
    return problems


def _check_triggers(definition: FlowDefinition) -> list[Problem]:
    problems: list[Problem] = []
    for index, trigger in enumerate(definition.triggers):
        loc: Loc = ("triggers", index)
        if isinstance(trigger, CronTrigger):
            problems += _check_cron(trigger, loc)
        elif isinstance(trigger, EventTrigger) and trigger.filter is not None:
            problems += _check_filter(trigger.filter, (*loc, "filter"))
    return problems


def _check_cron(trigger: CronTrigger, loc: Loc) -> list[Problem]:
    problems: list[Problem] = []
    try:
        zone = ZoneInfo(trigger.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(((*loc, "timezone"), f"unknown timezone {trigger.timezone!r}"))
        zone = ZoneInfo("UTC")
    if len(trigger.cron.split()) != 5:
        problems.append(
            ((*loc, "cron"), "a cron schedule has five fields: minute hour day month weekday")
        )
        return problems
    try:
        next(CronSim(trigger.cron, datetime.datetime.now(zone)))
    except (CronSimError, StopIteration) as error:
        problems.append(((*loc, "cron"), f"not a cron schedule: {error or 'it never fires'}"))
    return problems


def _check_filter(text: str, loc: Loc) -> list[Problem]:
    try:
        compiled = compile_condition(text)
    except ExpressionError as error:
        return [(loc, str(error))]
    roots = sorted({path[0] for path in compiled.references if path[0] != "event"})
    return [(loc, f"unknown name `{root}`; a filter reads `event`") for root in roots]
