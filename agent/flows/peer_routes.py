"""What members ask of this node's flows: take pushed records and cursors, answer a digest,
fetch records, list, read, delete, cancel, start and rerun the runs stored here, and fire an
event a member relayed for a flow this node owns. Bodies are
parsed by `core.http` and validated against `peer_wire` before anything happens: malformed
input is a 400 and changes nothing. The peer listener lets only current members in."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import BadRequest, NotFound
from agent.core.http import json_response, read_json_value, validate
from agent.core.wire import StrictModel
from agent.flows.cluster import FlowsClusterImpl
from agent.flows.models import FlowRun, RerunBody
from agent.flows.peer_wire import (
    DIGEST,
    FETCH,
    FIRE,
    FIRE_BODY_LIMIT,
    PUSH_BODY_LIMIT,
    RECORDS,
    RUN,
    RUN_CANCEL,
    RUN_DELETE,
    RUN_RERUN,
    RUN_START,
    RUNS,
    RUNS_ANSWER_LIMIT,
    SMALL_BODY_LIMIT,
    DigestBody,
    FetchBody,
    FireBody,
    PushBody,
    RerunRequest,
    RunRef,
    RunsBody,
    StartBody,
)
from agent.peer.listener import body_limit, peer_node

Wire = TypeVar("Wire", bound=StrictModel)
# Room left in a runs answer for what surrounds the runs.
RUNS_BYTES = RUNS_ANSWER_LIMIT - 64 * 1024


async def _read(request: Request, model: type[Wire], limit: int) -> Wire:
    data = await read_json_value(request, limit)
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
    return validate(model, data)


def _run_missing(run_id: str) -> NotFound:
    return NotFound(f"no run {run_id} on this member", code="FLOW_RUN_NOT_FOUND")


def build_peer_routes(flows: FlowsClusterImpl) -> list[BaseRoute]:
    replicator = flows.replicator

    async def records(request: Request) -> Response:
        body = await _read(request, PushBody, PUSH_BODY_LIMIT)
        taken = await replicator.take(body.records, body.cursors, peer_node(request))
        return json_response({"taken": taken})

    async def digest(request: Request) -> Response:
        await _read(request, DigestBody, SMALL_BODY_LIMIT)
        return json_response(await replicator.digest())

    async def fetch(request: Request) -> Response:
        ask = await _read(request, FetchBody, SMALL_BODY_LIMIT)
        found = await replicator.fetch(ask.ids)
        return json_response({"records": [r.as_wire() for r in found]})

    async def runs(request: Request) -> Response:
        ask = await _read(request, RunsBody, SMALL_BODY_LIMIT)
        listed: list[str] = []
        size = 0
        for run in (await flows.runs_of(ask.flow_id, ask.limit))[: ask.limit]:
            text = run.model_copy(update={"steps": []}).model_dump_json()
            size += len(text) + 1
            if size > RUNS_BYTES:
                break  # the oldest are left out rather than the whole answer
            listed.append(text)
        body = '{"runs":[' + ",".join(listed) + "]}"
        return Response(body, media_type="application/json")

    async def stored_run(ref: RunRef) -> FlowRun:
        run = await flows.run_of(ref.run_id)
        if run is None or run.flow_id != ref.flow_id:
            raise _run_missing(ref.run_id)
        return run

    async def run(request: Request) -> Response:
        return json_response(await stored_run(await _read(request, RunRef, SMALL_BODY_LIMIT)))

    async def delete(request: Request) -> Response:
        ref = await _read(request, RunRef, SMALL_BODY_LIMIT)
        await stored_run(ref)
        return json_response({"deleted": await flows.delete_run(ref.run_id)})

    async def cancel(request: Request) -> Response:
        ref = await _read(request, RunRef, SMALL_BODY_LIMIT)
        await stored_run(ref)
        return json_response(await flows.cancel_run(ref.run_id))

    async def fire(request: Request) -> Response:
        body = await _read(request, FireBody, FIRE_BODY_LIMIT)
        return json_response({"fired": await flows.take_fire(body)})

    async def foreign(flow_id: str) -> bool:
        record = await flows.store.record(flow_id)
        if record is None or record.deleted:
            raise NotFound(f"no flow {flow_id}", code="FLOW_NOT_FOUND")
        return record.author != flows.node_id

    async def start(request: Request) -> Response:
        ask = await _read(request, StartBody, SMALL_BODY_LIMIT)
        is_foreign = await foreign(ask.flow_id)
        return json_response(await flows.run_here(ask.flow_id, ask.run, foreign=is_foreign))

    async def rerun(request: Request) -> Response:
        ask = await _read(request, RerunRequest, SMALL_BODY_LIMIT)
        is_foreign = await foreign(ask.flow_id)
        await stored_run(RunRef(flow_id=ask.flow_id, run_id=ask.run_id))
        again = await flows.rerun_here(
            ask.flow_id, ask.run_id, RerunBody(from_step=ask.from_step), foreign=is_foreign
        )
        return json_response(again)

    small = [
        (DIGEST, digest),
        (FETCH, fetch),
        (RUNS, runs),
        (RUN, run),
        (RUN_DELETE, delete),
        (RUN_CANCEL, cancel),
        (RUN_START, start),
        (RUN_RERUN, rerun),
    ]
    return [
        body_limit(Route(RECORDS, records, methods=["POST"]), PUSH_BODY_LIMIT),
        body_limit(Route(FIRE, fire, methods=["POST"]), FIRE_BODY_LIMIT),
        *(body_limit(Route(p, e, methods=["POST"]), SMALL_BODY_LIMIT) for p, e in small),
    ]
