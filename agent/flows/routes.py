"""HTTP handlers of flows' definitions: parse, call the service, answer its models.

A definition is sent as text, YAML or JSON by its Content-Type, and bounded before it is
read whole (413); runs' routes are in routes_runs.py."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.errors import BadRequest, UnsupportedMediaType
from agent.core.http import api_route, json_response, read_body, read_json
from agent.flows.models import (
    FLOW_ID_PATTERN,
    Flow,
    FlowDeleted,
    FlowList,
    FlowSchema,
    SourceFormat,
    ToggleBody,
)
from agent.flows.parse import MAX_SOURCE_BYTES
from agent.flows.routes_runs import build_run_routes
from agent.flows.service import FlowService, flow_missing
from agent.flows.service_runs import RunService

TAG = "flows"
FORMATS: dict[str, SourceFormat] = {
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/plain": "yaml",
}
_FLOW_ID = re.compile(FLOW_ID_PATTERN)
FLOW = {404: "FLOW_NOT_FOUND"}
SOURCE_ERRORS = {
    400: "FLOW_INVALID (details.errors: line, column, path, message)",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def flow_id_of(request: Request) -> str:
    flow_id: str = request.path_params["flow_id"]
    if not _FLOW_ID.fullmatch(flow_id):
        raise flow_missing(flow_id)
    return flow_id


async def read_source(request: Request) -> tuple[str, SourceFormat]:
    declared = request.headers.get("content-type", "application/yaml")
    fmt = FORMATS.get(declared.split(";")[0].strip().lower())
    if fmt is None:
        raise UnsupportedMediaType(
            f"a definition is sent as YAML or JSON, not {declared[:80]}",
            details={"accepted": sorted(FORMATS)},
        )
    raw = await read_body(request, MAX_SOURCE_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable("the definition is not valid UTF-8") from None
    if not text.strip():
        raise _unreadable("the definition is empty")
    return text, fmt


def _unreadable(message: str) -> BadRequest:
    error = {"line": None, "column": None, "path": "", "message": message}
    return BadRequest(message, code="FLOW_INVALID", details={"errors": [error]})


def build_routes(flows: FlowService, runs: RunService) -> list[BaseRoute]:
    async def list_flows(request: Request) -> Response:
        return json_response(await flows.listing())

    async def create_flow(request: Request) -> Response:
        text, fmt = await read_source(request)
        return json_response(await flows.create(text, fmt), 201)

    async def flow_schema(request: Request) -> Response:
        # By alias: the answer's key is `schema` (a name pydantic keeps for itself).
        return json_response(flows.schema().model_dump(mode="json", by_alias=True))

    async def get_flow(request: Request) -> Response:
        return json_response(await flows.get(flow_id_of(request)))

    async def update_flow(request: Request) -> Response:
        flow_id = flow_id_of(request)
        text, fmt = await read_source(request)
        return json_response(await flows.update(flow_id, text, fmt))

    async def delete_flow(request: Request) -> Response:
        return json_response(await flows.delete(flow_id_of(request)))

    async def toggle_flow(request: Request) -> Response:
        flow_id = flow_id_of(request)
        body = await read_json(request, ToggleBody)
        return json_response(await flows.toggle(flow_id, body.enabled))

    return [
        api_route("/api/flows", list_flows, methods=["GET"], tag=TAG, answer=FlowList,
                  summary="Every flow of the cluster, in name order."),
        api_route("/api/flows", create_flow, methods=["POST"], tag=TAG, answer=Flow, success=201,
                  summary="Save a new flow from its definition (YAML or JSON by Content-Type); "
                  "its id is the slug of its name.",
                  responses={**SOURCE_ERRORS, 409: "FLOW_EXISTS"}),
        api_route("/api/flows/schema", flow_schema, methods=["GET"], tag=TAG, answer=FlowSchema,
                  summary="The JSON Schema a flow definition is checked against."),
        api_route("/api/flows/{flow_id}", get_flow, methods=["GET"], tag=TAG, answer=Flow,
                  summary="One flow: its definition, triggers, owner and last run.",
                  responses=FLOW),
        api_route("/api/flows/{flow_id}", update_flow, methods=["PUT"], tag=TAG, answer=Flow,
                  summary="Replace a flow's definition (its version goes up by one).",
                  responses={**SOURCE_ERRORS, **FLOW}),
        api_route("/api/flows/{flow_id}", delete_flow, methods=["DELETE"], tag=TAG,
                  answer=FlowDeleted, responses=FLOW,
                  summary="Delete a flow and its runs, on every member."),
        api_route("/api/flows/{flow_id}/toggle", toggle_flow, methods=["PUT"], tag=TAG,
                  body=ToggleBody, answer=Flow, responses=FLOW,
                  summary="Enable or disable a flow's triggers (no body: flip)."),
        *build_run_routes(runs, flow_id_of, TAG),
    ]  # fmt: skip
