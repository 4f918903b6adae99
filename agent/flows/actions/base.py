"""The contract between the run engine and an action.

The engine renders a step's `with` (expressions evaluated), validates it against the action's
`params` model and calls `run` once per attempt, under the step's timeout (the call is
cancelled when it passes). `run` answers the step's outputs, a JSON object of at most
`MAX_VALUE_BYTES` once encoded. A failure the user should read raises `StepFailed` with a
message (and the outputs so far, e.g. an exit code); any other exception is a bug of the action
and fails the step with its type and text. Retries, `on_error` and timeouts are the engine's.

`wait` and `flow.run` are run by the engine itself (they must survive restarts and see other
runs); their params models live here all the same, so a definition is checked in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel


class StepFailed(Exception):
    def __init__(self, message: str, outputs: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.outputs = outputs or {}


@dataclass(frozen=True)
class StepCall:
    flow_id: str
    flow_name: str
    run_id: str
    step_id: str
    attempt: int
    params: BaseModel
    # True when another member wrote the flow: it may use what any member may ask of the
    # cluster, but not this node's own files, loopback services or (with remote_exec off)
    # its shell. See docs/security.md, "Flows".
    foreign: bool
    log: Callable[[str], None] = field(repr=False)
    # Absolute clock time the step's timeout ends at (None: no timeout).
    deadline: float | None = None


class Action(Protocol):
    name: str

    async def run(self, call: StepCall) -> dict[str, Any]: ...
