"""Runs on other members: listing, reading, deleting and cancelling them, and handing a manual
run or a rerun to the member that should run it.

Every member is asked at once, each for at most ASK_TIMEOUT_S and a bounded answer; one that
does not answer is left out (its runs are not shown), never an error for the whole list. A
member's refusal in the standard format (404, 409, 400...) becomes this node's answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError

from agent.core.cluster import OFFLINE, ClusterView, MemberView
from agent.core.errors import ApiError, ServiceUnavailable
from agent.core.wire import Answer
from agent.flows.models import FlowRun, RerunBody, RunBody
from agent.flows.peer_wire import (
    RUN,
    RUN_ANSWER_LIMIT,
    RUN_CANCEL,
    RUN_DELETE,
    RUN_RERUN,
    RUN_START,
    RUNS,
    RUNS_ANSWER_LIMIT,
    Answered,
    MemberFailed,
    RerunRequest,
    RunRef,
    RunsBody,
    StartBody,
    ask,
)
from agent.peer.client import PeerClient

log = logging.getLogger("openfabric.flows")
M = TypeVar("M", bound=BaseModel)
FORWARD_TIMEOUT_S = 10.0


class RunsAnswer(Answer):
    runs: list[FlowRun]


class DeletedAnswer(Answer):
    deleted: bool


class RemoteRuns:
    def __init__(self, cluster: ClusterView, peers: PeerClient) -> None:
        self.cluster = cluster
        self.peers = peers

    def reachable(self) -> list[MemberView]:
        return [m for m in self.cluster.members() if not m.is_self and m.state != OFFLINE]

    async def _each(
        self, path: str, body: BaseModel, limit: int, timeout: float | None = None
    ) -> list[tuple[MemberView, Answered]]:
        """Every reachable member's answer; those that did not answer are left out."""
        answers: list[tuple[MemberView, Answered]] = []

        async def one(member: MemberView) -> None:
            try:
                kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
                answers.append(
                    (member, await ask(self.peers, member, path, body, limit=limit, **kwargs))
                )
            except MemberFailed as exc:
                log.debug("flows: %s", exc)

        async with anyio.create_task_group() as tg:
            for member in self.reachable():
                tg.start_soon(one, member)
        return answers

    async def runs(self, flow_id: str, limit: int) -> list[FlowRun]:
        """Other members' runs of a flow, newest first, at most `limit`, without steps."""
        # Keyed by member too: a slot run on two members is two runs, and both are shown.
        found: dict[tuple[str, str], FlowRun] = {}
        body = RunsBody(flow_id=flow_id, limit=limit)
        for member, answer in await self._each(RUNS, body, RUNS_ANSWER_LIMIT):
            listed = _parsed(RunsAnswer, answer, member)
            if listed is None:
                continue
            for run in listed.runs[:limit]:
                # A member answers for the runs it ran, nothing else.
                if run.flow_id == flow_id and run.node_id == member.node_id:
                    found.setdefault((run.node_id, run.id), run.model_copy(update={"steps": []}))
        newest = sorted(found.values(), key=lambda r: (r.created_at, r.id), reverse=True)
        return newest[:limit]

    async def run(self, flow_id: str, run_id: str) -> FlowRun | None:
        body = RunRef(flow_id=flow_id, run_id=run_id)
        for member, answer in await self._each(RUN, body, RUN_ANSWER_LIMIT):
            run = _parsed(FlowRun, answer, member)
            if run is not None and (run.id, run.flow_id) == (run_id, flow_id):
                return run
        return None

    async def delete(self, flow_id: str, run_id: str) -> bool:
        deleted = False
        for member, answer in await self._each(
            RUN_DELETE, RunRef(flow_id=flow_id, run_id=run_id), 4096
        ):
            refusal = answer.error()
            if refusal is not None and refusal.status != 404:
                raise refusal
            done = _parsed(DeletedAnswer, answer, member)
            deleted = deleted or (done is not None and done.deleted)
        return deleted

    async def cancel(self, flow_id: str, run_id: str) -> FlowRun | None:
        """The member holding `run_id` cancels it; None when no member has it."""
        ref = RunRef(flow_id=flow_id, run_id=run_id)
        for member, answer in await self._each(
            RUN_CANCEL, ref, RUN_ANSWER_LIMIT, FORWARD_TIMEOUT_S
        ):
            refusal = answer.error()
            if refusal is not None and refusal.status != 404:
                raise refusal
            run = _parsed(FlowRun, answer, member)
            if run is not None and (run.id, run.flow_id) == (run_id, flow_id):
                return run
        return None

    async def forward_run(self, owner: str, flow_id: str, body: RunBody) -> FlowRun:
        """Ask `owner` to start a manual run; 503 FLOW_OWNER_UNREACHABLE when it cannot."""
        member = self.cluster.member(owner)
        if member is None or member.state == OFFLINE:
            raise _unreachable(owner, "it is offline")
        try:
            answer = await ask(
                self.peers,
                member,
                RUN_START,
                StartBody(flow_id=flow_id, run=body),
                limit=RUN_ANSWER_LIMIT,
                timeout=FORWARD_TIMEOUT_S,
            )
        except MemberFailed as exc:
            raise _unreachable(owner, str(exc)) from None
        refusal = answer.error()
        if refusal is not None:
            raise refusal
        run = _parsed(FlowRun, answer, member)
        if run is None or run.flow_id != flow_id:
            raise _unreachable(owner, f"it answered HTTP {answer.status} without a run")
        return run

    async def forward_rerun(self, flow_id: str, run_id: str, body: RerunBody) -> FlowRun | None:
        """The member that ran `run_id` reruns it; None when no member has it."""
        request = RerunRequest(flow_id=flow_id, run_id=run_id, from_step=body.from_step)
        refusals: list[ApiError] = []
        for member, answer in await self._each(
            RUN_RERUN, request, RUN_ANSWER_LIMIT, FORWARD_TIMEOUT_S
        ):
            refusal = answer.error()
            if refusal is not None:
                if refusal.status != 404:
                    refusals.append(refusal)
                continue
            run = _parsed(FlowRun, answer, member)
            if run is not None and run.flow_id == flow_id:
                return run
        if refusals:
            raise refusals[0]
        return None


def _unreachable(owner: str, why: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the member that runs this flow ({owner}) could not start it: {why}",
        code="FLOW_OWNER_UNREACHABLE",
        details={"owner": owner},
    )


def _parsed(model: type[M], answer: Answered, member: MemberView) -> M | None:
    if answer.status != 200 or answer.body is None:
        return None
    try:
        return model.model_validate(answer.body)
    except ValidationError:
        log.warning("%s answered a malformed %s", member.node_id, model.__name__)
        return None


def newest_first(runs: Sequence[FlowRun], limit: int) -> list[FlowRun]:
    """Runs from here and elsewhere merged: one per member and id, newest first, at most
    `limit`."""
    unique = {(run.node_id, run.id): run for run in runs}
    return sorted(unique.values(), key=lambda r: (r.created_at, r.id), reverse=True)[:limit]
