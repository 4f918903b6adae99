"""What flows' members send one another: paths, bodies (StrictModels, every size bounded) and
one way to ask a member, reading its answer only up to a byte bound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import httpx
from pydantic import BaseModel, Field

from agent.core.cluster import MemberView
from agent.core.errors import ApiError
from agent.core.http import peer_answer
from agent.core.wire import StrictModel
from agent.flows.definition import MAX_TRIGGERS, STEP_ID_PATTERN, TOPIC_PATTERN
from agent.flows.models import RUNS_KEPT, RunBody
from agent.flows.records import (
    MAX_VERSION,
    NODE_ID_PATTERN,
    CursorWire,
    NodeId,
    RecordWire,
    Time,
    WireFlowId,
)
from agent.peer.client import PeerClient, PeerUnreachable

RECORDS = "/peer/flows/records"
DIGEST = "/peer/flows/records/digest"
FETCH = "/peer/flows/records/fetch"
RUNS = "/peer/flows/runs"
RUN = "/peer/flows/run"
RUN_DELETE = "/peer/flows/run/delete"
RUN_START = "/peer/flows/run/start"
RUN_RERUN = "/peer/flows/run/rerun"
RUN_CANCEL = "/peer/flows/run/cancel"
FIRE = "/peer/flows/fire"

MAX_PUSH_RECORDS = 64
MAX_PUSH_CURSORS = 256
# About this much JSON per push; one larger record goes alone.
PUSH_BYTES = 1024 * 1024
# A 256 KiB source may grow several times as JSON (escapes), so a push is bounded well above.
PUSH_BODY_LIMIT = 8 * 1024 * 1024
MAX_DIGEST = 5000
DIGEST_ANSWER_LIMIT = 4 * 1024 * 1024
FETCH_BATCH = 4
FETCH_ANSWER_LIMIT = 8 * 1024 * 1024
RUNS_ANSWER_LIMIT = 8 * 1024 * 1024
RUN_ANSWER_LIMIT = 16 * 1024 * 1024
SMALL_BODY_LIMIT = 256 * 1024
# A relayed event's data is at most the trigger payload's 64 KiB, which may grow as JSON.
FIRE_BODY_LIMIT = 256 * 1024
ASK_TIMEOUT_S = 3.0

RunId = Annotated[str, Field(min_length=1, max_length=128)]


class PushBody(StrictModel):
    records: list[RecordWire] = Field(default_factory=list, max_length=MAX_PUSH_RECORDS)
    cursors: list[CursorWire] = Field(default_factory=list, max_length=MAX_PUSH_CURSORS)


class Taken(StrictModel):
    taken: Annotated[int, Field(ge=0)]


class DigestBody(StrictModel):
    pass


class Stamp(StrictModel):
    flow_id: WireFlowId
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)]
    updated_at: Time
    author: NodeId

    @property
    def order(self) -> tuple[int, float, str]:
        return (self.version, float(self.updated_at), self.author)


class Digest(StrictModel):
    records: list[Stamp] = Field(max_length=MAX_DIGEST)
    cursors: list[CursorWire] = Field(max_length=MAX_DIGEST)
    online: list[Annotated[str, Field(pattern=NODE_ID_PATTERN)]] = Field(
        max_length=1000, description="The members the answering node sees online, itself too"
    )


class FetchBody(StrictModel):
    ids: list[WireFlowId] = Field(max_length=FETCH_BATCH)


class Fetched(StrictModel):
    records: list[RecordWire] = Field(max_length=FETCH_BATCH)


class RunsBody(StrictModel):
    flow_id: WireFlowId
    limit: Annotated[int, Field(ge=1, le=RUNS_KEPT)]


class RunRef(StrictModel):
    flow_id: WireFlowId
    run_id: RunId


class StartBody(StrictModel):
    flow_id: WireFlowId
    run: RunBody


class RerunRequest(StrictModel):
    flow_id: WireFlowId
    run_id: RunId
    from_step: Annotated[str, Field(pattern=STEP_ID_PATTERN)] | None = None


class FireBody(StrictModel):
    """An event that happened on the sender, for a trigger of a flow the receiver owns. The
    body's size is bounded by its route."""

    flow_id: WireFlowId
    trigger_index: Annotated[int, Field(ge=0, lt=MAX_TRIGGERS)]
    topic: Annotated[str, Field(pattern=TOPIC_PATTERN)]
    id: Annotated[int, Field(ge=0, le=2**63 - 1)]
    data: dict[str, Any]


class Fired(StrictModel):
    fired: bool


class Deleted(StrictModel):
    deleted: bool


class MemberFailed(Exception):
    """A member did not answer as it should: unreachable, too slow, too much, not JSON."""


@dataclass(frozen=True)
class Answered:
    status: int
    body: dict[str, Any] | None

    def error(self) -> ApiError | None:
        """The member's refusal in the standard format, as this node's own error."""
        body = self.body or {}
        message, code = body.get("error"), body.get("error_code")
        if not (400 <= self.status < 500 and isinstance(message, str) and isinstance(code, str)):
            return None
        details = body.get("details")
        return ApiError(
            message[:2000],
            code=code[:64],
            status=self.status,
            details=details if isinstance(details, dict) else {},
        )


async def ask(
    peers: PeerClient,
    member: MemberView,
    path: str,
    body: BaseModel | dict[str, Any],
    *,
    limit: int,
    timeout: float = ASK_TIMEOUT_S,
) -> Answered:
    """POST `body` to `member`; its status and JSON object, read up to `limit` bytes."""
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    raw = bytearray()
    if not member.target.addresses:
        raise MemberFailed(f"no address of {member.node_id} is known")
    try:
        with anyio.fail_after(timeout):
            async with peers.stream(member.target, "POST", path, json_body=payload) as response:
                async for block in response.aiter_bytes():
                    raw += block
                    if len(raw) > limit:
                        raise MemberFailed(f"{member.node_id} answered more than {limit} bytes")
                status = response.status_code
    except TimeoutError:
        raise MemberFailed(f"{member.node_id} did not answer within {timeout:g} s") from None
    except (PeerUnreachable, httpx.HTTPError, OSError) as exc:
        raise MemberFailed(f"{member.node_id} is unreachable: {exc}") from exc
    return Answered(status, peer_answer(bytes(raw)))
