"""Fabric Flow calls (automations that run on the cluster), mixed into `AgentClient`.

    async with AgentClient(*discover()) as client:
        flow = await client.create_flow(Path("backup.yaml").read_text(), "yaml")
        run = await client.run_flow(flow.id, {"folder": "/srv/photos"})
        async for event in client.follow_flow_run(flow.id, run.id):
            print(event.kind, event.step_id, event.state)
        # the last event is `done`, its `run` the finished run with every step

A definition is sent as its text (YAML or JSON), as it will be stored; one the agent refuses
raises `ApiError` FLOW_INVALID whose `definition_errors(err)` are the problems with their
line and column. Flows are cluster-wide: any member answers for all of them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from pydantic import ValidationError

from agent.client.errors import ApiError, StreamEndedEarly
from agent.client.transport import Transport
from agent.flows.models import (
    FINISHED_RUN_STATES,
    DefinitionError,
    Flow,
    FlowDeleted,
    FlowList,
    FlowRun,
    FlowSchema,
    RunDeleted,
    RunList,
    SourceFormat,
)

CONTENT_TYPES: dict[str, str] = {"yaml": "application/yaml", "json": "application/json"}
RUN_TOPICS = ["flow.run", "flow.step"]
REPLAYED = "stream.replayed"
MAX_ID = 80


def flow_id_of(name: str) -> str:
    """The id the agent gives a flow created under `name`: lowercase ASCII letters, digits and
    dashes, at most 80 characters (a name with none of them: "flow-" and a hash of it)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:MAX_ID].strip("-")
    return text or "flow-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def definition_errors(error: ApiError) -> list[DefinitionError]:
    """The problems of a refused definition (FLOW_INVALID), each with its line and column;
    [] for any other refusal."""
    found = error.details.get("errors") if error.code == "FLOW_INVALID" else None
    problems: list[DefinitionError] = []
    for item in found if isinstance(found, list) else []:
        try:
            problems.append(DefinitionError.model_validate(item))
        except ValidationError:
            continue
    return problems


@dataclass(frozen=True)
class FlowRunEvent:
    """One event of `follow_flow_run`: `run` (the run's state changed), `step` (a step's did:
    `step_id`, `attempt`), `skipped`, then one `done` whose `run` is the finished run."""

    kind: Literal["run", "step", "skipped", "done"]
    state: str
    step_id: str | None = None
    attempt: int | None = None
    error: str | None = None
    duration_ms: float | None = None
    run: FlowRun | None = None


def _flow_path(flow_id: str, *rest: str) -> str:
    return "/".join(["/api/flows", quote(flow_id, safe=""), *(quote(p, safe="") for p in rest)])


def _event_of(topic: str, data: Any) -> FlowRunEvent | None:
    if not isinstance(data, dict):
        return None
    state, error = str(data.get("state", "")), data.get("error")
    duration = data.get("duration_ms")
    duration_ms = float(duration) if isinstance(duration, int | float) else None
    error_text = str(error) if error is not None else None
    if topic.startswith("flow.step"):
        attempt = data.get("attempt")
        return FlowRunEvent(
            "step",
            state,
            step_id=str(data.get("step_id", "")),
            attempt=attempt if isinstance(attempt, int) else None,
            error=error_text,
            duration_ms=duration_ms,
        )
    if topic == "flow.run.skipped":
        return FlowRunEvent("skipped", "skipped")
    return FlowRunEvent("run", state, error=error_text, duration_ms=duration_ms)


class FlowsMixin(Transport):
    async def flows(self) -> FlowList:
        """Every flow in the cluster, in name order, with its triggers in words, the member
        that runs them (`owner`) and its last run."""
        return await self._get_model("/api/flows", FlowList)

    async def flow(self, flow_id: str) -> Flow:
        """One flow with its source as saved and its parsed definition (FLOW_NOT_FOUND)."""
        return await self._get_model(_flow_path(flow_id), Flow)

    async def flow_schema(self) -> dict[str, Any]:
        """The JSON Schema definitions are validated against."""
        return (await self._get_model("/api/flows/schema", FlowSchema)).json_schema

    async def _send_definition(self, method: str, path: str, text: str, fmt: str) -> Flow:
        if fmt not in CONTENT_TYPES:
            raise ValueError(f"format must be yaml or json, not {fmt!r}")
        headers = {"Content-Type": CONTENT_TYPES[fmt]}
        request = self._http.build_request(method, path, content=text.encode(), headers=headers)
        return self._model(await self._send(request), Flow)

    async def create_flow(self, text: str, fmt: SourceFormat = "yaml") -> Flow:
        """Save a new flow from its definition's text; its id is made from its name.

        Refusals: FLOW_INVALID (400, `definition_errors`), FLOW_EXISTS (409), 413 (over 256
        KiB).
        """
        return await self._send_definition("POST", "/api/flows", text, fmt)

    async def update_flow(self, flow_id: str, text: str, fmt: SourceFormat = "yaml") -> Flow:
        """Replace a flow's definition (its id stays, `version` goes up by one).

        Refusals: FLOW_INVALID (400), FLOW_NOT_FOUND (404)."""
        return await self._send_definition("PUT", _flow_path(flow_id), text, fmt)

    async def delete_flow(self, flow_id: str) -> FlowDeleted:
        """Delete a flow and its runs, on every member (FLOW_NOT_FOUND)."""
        return self._model(await self._request("DELETE", _flow_path(flow_id)), FlowDeleted)

    async def toggle_flow(self, flow_id: str, enabled: bool | None = None) -> Flow:
        """Enable or disable a flow's triggers (`enabled` None flips it; FLOW_NOT_FOUND)."""
        body = {} if enabled is None else {"enabled": enabled}
        response = await self._request("PUT", _flow_path(flow_id, "toggle"), json_body=body)
        return self._model(response, Flow)

    async def run_flow(self, flow_id: str, inputs: Mapping[str, Any] | None = None) -> FlowRun:
        """Start a run by hand; answers it queued, running or skipped (its mode allowed none).

        Refusals: FLOW_INPUT_INVALID (400), FLOW_NOT_FOUND (404), FLOW_OWNER_UNREACHABLE
        (503: the member that runs the flow cannot be asked).
        """
        body = {"inputs": dict(inputs or {})}
        response = await self._request("POST", _flow_path(flow_id, "run"), json_body=body)
        return self._model(response, FlowRun)

    async def flow_runs(self, flow_id: str, limit: int = 50) -> RunList:
        """The flow's latest runs on every member, newest first, without their steps."""
        params = {"limit": str(limit)}
        response = await self._request("GET", _flow_path(flow_id, "runs"), params=params)
        return self._model(response, RunList)

    async def flow_run(self, flow_id: str, run_id: str) -> FlowRun:
        """One run with every step: state, attempts, inputs, outputs, error, logs, timings
        (FLOW_RUN_NOT_FOUND)."""
        return await self._get_model(_flow_path(flow_id, "runs", run_id), FlowRun)

    async def delete_flow_run(self, flow_id: str, run_id: str) -> RunDeleted:
        """Forget a finished run (FLOW_RUN_NOT_FOUND, FLOW_RUN_ACTIVE)."""
        response = await self._request("DELETE", _flow_path(flow_id, "runs", run_id))
        return self._model(response, RunDeleted)

    async def cancel_flow_run(self, flow_id: str, run_id: str) -> FlowRun:
        """Stop an active run (FLOW_RUN_NOT_FOUND, FLOW_RUN_FINISHED)."""
        path = _flow_path(flow_id, "runs", run_id, "cancel")
        return self._model(await self._request("POST", path), FlowRun)

    async def rerun_flow(self, flow_id: str, run_id: str, from_step: str | None = None) -> FlowRun:
        """A new run with the same inputs and trigger, the steps before `from_step` copied
        with their outputs (None: from the first step that did not succeed).

        Refusals: FLOW_STEP_NOT_FOUND (400), FLOW_RUN_NOT_FOUND (404), FLOW_RUN_ACTIVE (409).
        """
        body = {} if from_step is None else {"from_step": from_step}
        path = _flow_path(flow_id, "runs", run_id, "rerun")
        return self._model(await self._request("POST", path, json_body=body), FlowRun)

    async def follow_flow_run(
        self, flow_id: str, run_id: str
    ) -> AsyncGenerator[FlowRunEvent, None]:
        """The run's transitions as they happen, then one `done` event with the finished run.

        What the agent still holds of the run's past events comes first, so nothing between
        starting the run and following it is missed; a run already finished gives `done` at
        once. A caller that stops early should close the iterator (`contextlib.aclosing`).
        """
        stream = self._stream(
            "GET", "/api/events", "event stream", params={"topics": ",".join(RUN_TOPICS)},
            last_event_id=0,
        )  # fmt: skip
        live = False
        async with aclosing(stream):
            async for event in stream:
                if event.topic == REPLAYED:
                    live = True
                    run = await self.flow_run(flow_id, run_id)
                    if run.state in FINISHED_RUN_STATES:
                        yield FlowRunEvent("done", run.state, error=run.error, run=run)
                        return
                    continue
                data = event.data
                if not isinstance(data, dict) or data.get("run_id") != run_id:
                    continue
                found = _event_of(event.topic, data)
                if found is None:
                    continue
                yield found
                if live and found.kind == "run" and found.state in FINISHED_RUN_STATES:
                    run = await self.flow_run(flow_id, run_id)
                    yield FlowRunEvent("done", run.state, error=run.error, run=run)
                    return
        raise StreamEndedEarly("the agent ended the event stream before the run finished")
