"""One step of a run: its `if`, its `with` rendered and checked, then its attempts.

Attempts: 1 + retry.limit, each under the step's timeout on the flows clock. Between two, the
delay min(backoff * 2**(n-1), max_delay) is persisted as the step's `wake_at` before the
engine sleeps, so a restart keeps the schedule. Retries happen whatever `on_error` says; what
happens after the last failed attempt is the runner's.

A step is resumed after a restart from its row: `running` (the attempt was cut: it counts,
and the next one runs, at least one more whatever the limit), `waiting` with an error (a
retry delay: sleep until `wake_at`, then the next attempt), `waiting` without one (a wait
step: the same attempt goes on waiting until its `wake_at`).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from agent.flows.actions.base import StepFailed
from agent.flows.actions.params import PARAMS
from agent.flows.clock import Clock
from agent.flows.definition import Step
from agent.flows.engine.deadline import TimedOut, within
from agent.flows.engine.scope import off_loop
from agent.flows.expressions import ExpressionError, compile_condition, compile_template
from agent.flows.models import MAX_VALUE_BYTES, StepRun


class ScopeOf(Protocol):
    def __call__(self, attempt: int) -> dict[str, Any]: ...


class StepHost(Protocol):
    clock: Clock

    async def save_step(self, record: StepRun, attempt: int) -> None:
        """Persist the step's row, then publish its change."""
        ...

    async def call(
        self,
        step: Step,
        params: BaseModel,
        record: StepRun,
        attempt: int,
        deadline: float | None,
        wake_at: float | None,
    ) -> dict[str, Any]:
        """One attempt: the action's outputs, or StepFailed."""
        ...


class BadParams(Exception):
    pass


async def render_params(step: Step, scope: dict[str, Any]) -> tuple[dict[str, Any], BaseModel]:
    try:
        rendered = await off_loop(compile_template(step.with_).render, scope)
    except ExpressionError as exc:
        raise BadParams(f"with: {exc}") from None
    if not isinstance(rendered, dict):
        raise BadParams("with: did not evaluate to an object")
    try:
        return rendered, PARAMS[step.uses].model_validate(rendered)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'with'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise BadParams(f"with: {problems}") from None


def retry_delay(step: Step, attempt: int) -> float:
    return float(min(step.retry.backoff * 2 ** (attempt - 1), step.retry.max_delay))


def _resume_point(record: StepRun) -> tuple[int, float | None, float | None]:
    """(next attempt, retry delay end, wait step's wake_at) from the step's row."""
    if record.state == "running":
        return record.attempts + 1, None, None
    if record.state == "waiting" and record.error is not None:
        return record.attempts + 1, record.wake_at, None
    if record.state == "waiting":
        return max(record.attempts, 1), None, record.wake_at
    return 1, None, None


async def execute(host: StepHost, step: Step, record: StepRun, scope_of: ScopeOf) -> None:
    """Run `step` to its end; its final state is in `record` (persisted and published)."""
    clock = host.clock
    if record.state == "pending" and step.if_ is not None:
        try:
            holds = await off_loop(compile_condition(step.if_).holds, scope_of(1))
        except ExpressionError as exc:
            return await _finish(host, record, "failed", f"if: {exc}")
        if not holds:
            return await _finish(host, record, "skipped", None)
    attempt, retry_at, wait_until = _resume_point(record)
    last = max(1 + step.retry.limit, attempt)
    if record.started_at is None:
        record.started_at = clock.now()
    while True:
        if retry_at is not None:
            await clock.sleep_until(retry_at)
        record.state, record.attempts, record.error, record.wake_at = "running", attempt, None, None
        await host.save_step(record, attempt)
        try:
            record.inputs, params = await render_params(step, scope_of(attempt))
        except BadParams as exc:
            return await _finish(host, record, "failed", str(exc))
        error, outputs = await _attempt(host, step, params, record, attempt, wait_until)
        record.outputs = outputs
        if error is None:
            return await _finish(host, record, "succeeded", None)
        if attempt >= last:
            return await _finish(host, record, "failed", error)
        retry_at = clock.now() + retry_delay(step, attempt)
        record.state, record.error, record.wake_at = "waiting", error, retry_at
        await host.save_step(record, attempt)
        attempt, wait_until = attempt + 1, None


async def _attempt(
    host: StepHost,
    step: Step,
    params: BaseModel,
    record: StepRun,
    attempt: int,
    wait_until: float | None,
) -> tuple[str | None, dict[str, Any]]:
    deadline = None if step.timeout is None else host.clock.now() + step.timeout
    try:
        outputs = await within(
            host.clock,
            deadline,
            lambda: host.call(step, params, record, attempt, deadline, wait_until),
        )
    except TimedOut:
        return f"timed out after {step.timeout:g} s", {}
    except StepFailed as exc:
        return exc.message, _bounded(exc.outputs)
    except Exception as exc:  # an action's bug fails its step, never the engine
        return f"{type(exc).__name__}: {exc}", {}
    if len(json.dumps(outputs, default=str)) > MAX_VALUE_BYTES:
        return f"outputs are larger than {MAX_VALUE_BYTES} bytes", {}
    return None, outputs


def _bounded(outputs: dict[str, Any]) -> dict[str, Any]:
    return outputs if len(json.dumps(outputs, default=str)) <= MAX_VALUE_BYTES else {}


async def _finish(host: StepHost, record: StepRun, state: str, error: str | None) -> None:
    now = host.clock.now()
    record.state = state  # type: ignore[assignment]
    record.error, record.wake_at, record.finished_at = error, None, now
    if record.started_at is None:
        record.started_at = now
    record.duration_ms = (now - record.started_at) * 1000
    await host.save_step(record, max(record.attempts, 1))
