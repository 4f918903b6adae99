"""HTTP handlers of flows' runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.http import QueryParam, api_route, json_response, parse_query, read_json
from agent.core.wire import StrictModel
from agent.flows.models import (
    RUNS_KEPT,
    FlowRun,
    RerunBody,
    RunBody,
    RunDeleted,
    RunList,
)
from agent.flows.service_runs import RunService, run_missing

_RUN_ID = re.compile(r"^[0-9a-f-]{36}$")
FLOW = {404: "FLOW_NOT_FOUND"}
RUN = {404: "FLOW_NOT_FOUND, FLOW_RUN_NOT_FOUND"}


class RunsQuery(StrictModel):
    limit: Annotated[int, Field(ge=1, le=RUNS_KEPT)] = RUNS_KEPT


def _run_id(request: Request) -> str:
    run_id: str = request.path_params["run_id"]
    if not _RUN_ID.fullmatch(run_id):
        raise run_missing(run_id)
    return run_id


def build_run_routes(
    runs: RunService, flow_id_of: Callable[[Request], str], tag: str
) -> list[BaseRoute]:
    async def start_run(request: Request) -> Response:
        flow_id = flow_id_of(request)
        body = await read_json(request, RunBody)
        return json_response(await runs.run(flow_id, body), 202)

    async def list_runs(request: Request) -> Response:
        flow_id = flow_id_of(request)
        query = parse_query(request, RunsQuery)
        return json_response(await runs.runs(flow_id, query.limit))

    async def get_run(request: Request) -> Response:
        return json_response(await runs.get_run(flow_id_of(request), _run_id(request)))

    async def delete_run(request: Request) -> Response:
        return json_response(await runs.delete_run(flow_id_of(request), _run_id(request)))

    async def cancel_run(request: Request) -> Response:
        return json_response(await runs.cancel(flow_id_of(request), _run_id(request)))

    async def rerun_run(request: Request) -> Response:
        flow_id, run_id = flow_id_of(request), _run_id(request)
        body = await read_json(request, RerunBody)
        return json_response(await runs.rerun(flow_id, run_id, body), 202)

    base = "/api/flows/{flow_id}"
    one = base + "/runs/{run_id}"
    return [
        api_route(base + "/run", start_run, methods=["POST"], tag=tag, body=RunBody,
                  answer=FlowRun, success=202,
                  summary="Run a flow now with inputs (on the member that owns it); the run "
                  "is queued, running or skipped as the flow's mode says.",
                  responses={400: "FLOW_INPUT_INVALID", **FLOW,
                             503: "FLOW_OWNER_UNREACHABLE"}),
        api_route(base + "/runs", list_runs, methods=["GET"], tag=tag, answer=RunList,
                  query=[QueryParam("limit", "integer", f"At most this many (1-{RUNS_KEPT})")],
                  summary="A flow's runs on every member, newest first, without step detail.",
                  responses=FLOW),
        api_route(one, get_run, methods=["GET"], tag=tag, answer=FlowRun, responses=RUN,
                  summary="One run with each step's state, attempts, inputs, outputs and logs."),
        api_route(one, delete_run, methods=["DELETE"], tag=tag, answer=RunDeleted,
                  summary="Delete a finished run.", responses={**RUN, 409: "FLOW_RUN_ACTIVE"}),
        api_route(one + "/cancel", cancel_run, methods=["POST"], tag=tag, answer=FlowRun,
                  summary="Cancel a run that has not ended.",
                  responses={**RUN, 409: "FLOW_RUN_FINISHED"}),
        api_route(one + "/rerun", rerun_run, methods=["POST"], tag=tag, body=RerunBody,
                  answer=FlowRun, success=202,
                  summary="Run again from a step, with the earlier steps' outputs (a new run "
                  "with rerun_of).",
                  responses={400: "FLOW_STEP_NOT_FOUND", **RUN, 409: "FLOW_RUN_ACTIVE"}),
    ]  # fmt: skip
