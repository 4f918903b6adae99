"""What every action shares: its outputs held under the engine's bound, the time a step has
left, and the failures of the SDK and of other subsystems turned into a step's failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel

from agent.client.errors import ClientError
from agent.core.errors import ApiError
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.clock import Clock
from agent.flows.models import MAX_VALUE_BYTES

# What one action's outputs may weigh as JSON, with room for the keys and small values.
OUTPUT_BUDGET = MAX_VALUE_BYTES - 8 * 1024
P = TypeVar("P", bound=BaseModel)


def encoded_size(value: Any) -> int:
    """Bytes of `value` as JSON, escaping all but ASCII: never less than any other encoding."""
    return len(json.dumps(value, separators=(",", ":")))


def head_fitting(text: str, budget: int) -> str:
    """The longest start of `text` whose JSON string fits `budget` bytes."""
    return _fitting(text, budget, lambda n: text[:n])


def tail_fitting(text: str, budget: int) -> str:
    """The longest end of `text` whose JSON string fits `budget` bytes."""
    return _fitting(text, budget, lambda n: text[len(text) - n :])


def _fitting(text: str, budget: int, cut: Any) -> str:
    if encoded_size(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if encoded_size(cut(middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return str(cut(low))


def params_of(call: StepCall, model: type[P]) -> P:
    if not isinstance(call.params, model):
        raise TypeError(f"{type(call.params).__name__} given where {model.__name__} is taken")
    return call.params


def time_left(call: StepCall, clock: Clock) -> float | None:
    """Seconds until the step's deadline (None: no deadline), never below a small floor."""
    if call.deadline is None:
        return None
    return max(0.05, call.deadline - clock.now())


def failure_text(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.message} ({exc.code})"
    return str(exc) or type(exc).__name__


@contextmanager
def reported(what: str) -> Iterator[None]:
    """A refusal of the agent's API or of a subsystem fails the step with its message."""
    try:
        yield
    except (ClientError, ApiError) as exc:
        raise StepFailed(f"{what}: {failure_text(exc)}") from None


def missing(subsystem: str, action: str) -> StepFailed:
    return StepFailed(f"{action} needs the {subsystem} subsystem, which this agent does not run")
