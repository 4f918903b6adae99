"""Pulse over the peer channel: the evaluator pushing its table to every member, a member
forwarding a dismissal or a notice to the evaluator, and the weekly digest asking every member
for its ledger. Every answer is read up to a byte bound and validated before it is used."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from agent.core.cluster import MemberView
from agent.core.errors import NotFound, ServiceUnavailable
from agent.core.http import peer_answer
from agent.peer.client import PeerClient, PeerUnreachable
from agent.pulse.models import (
    Insight,
    PeerDismissBody,
    PeerInsightTable,
    PeerLedger,
    PeerLedgerBody,
    PeerNotice,
)
from agent.pulse.notices import notice_id

TABLE_PATH = "/peer/pulse/insights"
DISMISS_PATH = "/peer/pulse/dismiss"
LEDGER_PATH = "/peer/pulse/ledger"
NOTICE_PATH = "/peer/pulse/notice"
TIMEOUT_S = 3.0
MAX_ANSWER_BYTES = 2 * 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)


class MemberFailed(Exception):
    pass


async def _ask(
    peers: PeerClient, member: MemberView, path: str, body: BaseModel
) -> tuple[int, dict[str, Any] | None]:
    """POST `body` to the member; answers the status and the JSON object it answered."""
    raw = bytearray()
    if not member.target.addresses:
        raise MemberFailed("no address of it is known")
    try:
        with anyio.fail_after(TIMEOUT_S):
            async with peers.stream(
                member.target, "POST", path, json_body=body.model_dump(mode="json", by_alias=True)
            ) as response:
                async for block in response.aiter_bytes():
                    raw += block
                    if len(raw) > MAX_ANSWER_BYTES:
                        raise MemberFailed("its answer was too large")
                status = response.status_code
    except TimeoutError:
        raise MemberFailed(f"no answer within {TIMEOUT_S:g} s") from None
    except (PeerUnreachable, httpx.HTTPError, OSError) as exc:
        raise MemberFailed(f"unreachable: {exc}") from exc
    return status, peer_answer(bytes(raw))


def _parse(model: type[Model], data: dict[str, Any] | None) -> Model:
    if data is None:
        raise MemberFailed("its answer was not JSON")
    try:
        return model.model_validate(data, strict=True)
    except ValidationError:
        raise MemberFailed(f"its answer was not a {model.__name__}") from None


async def push_table(
    peers: PeerClient, members: Sequence[MemberView], table: PeerInsightTable
) -> list[str]:
    """Send the table to every member not offline, at once; answers those that took it."""
    took: list[str] = []

    async def one(member: MemberView) -> None:
        try:
            status, _ = await _ask(peers, member, TABLE_PATH, table)
        except MemberFailed:
            return
        if status == 200:
            took.append(member.node_id)

    async with anyio.create_task_group() as tg:
        for member in members:
            if not member.is_self and member.state != "offline":
                tg.start_soon(one, member)
    return took


async def forward_dismiss(peers: PeerClient, evaluator: MemberView, insight_id: str) -> Insight:
    """Ask the evaluator to dismiss a card; its refusal becomes this node's answer."""
    try:
        status, data = await _ask(
            peers, evaluator, DISMISS_PATH, PeerDismissBody(insight_id=insight_id)
        )
    except MemberFailed as exc:
        raise _unreachable(evaluator, str(exc)) from None
    if status == 404:
        raise NotFound(f"no active insight {insight_id}", code="INSIGHT_NOT_FOUND")
    if status != 200:
        raise _unreachable(evaluator, f"it answered HTTP {status}")
    try:
        card = _parse(Insight, data)
    except MemberFailed as exc:
        raise _unreachable(evaluator, str(exc)) from None
    if card.id != insight_id:
        raise _unreachable(evaluator, "it answered about another card")
    return card


async def forward_notice(peers: PeerClient, evaluator: MemberView, notice: PeerNotice) -> Insight:
    """Ask the evaluator to hold a notice; answers its card."""
    try:
        status, data = await _ask(peers, evaluator, NOTICE_PATH, notice)
        if status != 200:
            raise MemberFailed(f"it answered HTTP {status}")
        card = _parse(Insight, data)
    except MemberFailed as exc:
        raise _unreachable(evaluator, str(exc), "hold the notice") from None
    if card.id != notice_id(notice.key):
        raise _unreachable(evaluator, "it answered about another card", "hold the notice")
    return card


def _unreachable(evaluator: MemberView, why: str, what: str = "dismiss it") -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the evaluating node {evaluator.name} could not {what}: {why}",
        code="PULSE_EVALUATOR_UNAVAILABLE",
        details={"evaluator": evaluator.node_id},
    )


async def fetch_ledgers(
    peers: PeerClient, members: Sequence[MemberView], since: float, until: float
) -> tuple[list[PeerLedger], list[str]]:
    """Every other member's ledger over the period; answers them and the members missing."""
    found: list[PeerLedger] = []
    missing: list[str] = []
    body = PeerLedgerBody(since=since, until=until)

    async def one(member: MemberView) -> None:
        try:
            status, data = await _ask(peers, member, LEDGER_PATH, body)
            if status != 200:
                raise MemberFailed(f"HTTP {status}")
            found.append(_parse(PeerLedger, data))
        except MemberFailed:
            missing.append(member.node_id)

    async with anyio.create_task_group() as tg:
        for member in members:
            if member.is_self:
                continue
            if member.state == "offline":
                missing.append(member.node_id)
            else:
                tg.start_soon(one, member)
    return found, sorted(missing)
