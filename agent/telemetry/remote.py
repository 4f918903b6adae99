"""Another member's telemetry history, asked of that member over the peer channel.

Each node keeps only its own samples; `/api/nodes/{id}/telemetry` for another member asks it
(`POST /peer/telemetry/history`). The answer is a claim from a member that may be
compromised, so it is read up to a byte bound, validated as `TelemetryHistory`, and kept only
where each sample is about the member asked. At most `MAX_SAMPLES` come back, evenly thinned
by the member, so a 20-minute chart at a fast telemetry interval stays a bounded transfer.
"""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.core.cluster import MemberView
from agent.core.errors import ApiError, ServiceUnavailable
from agent.peer.client import PeerClient, PeerUnreachable
from agent.telemetry.models import TelemetryHistory

T = TypeVar("T")

PATH = "/peer/telemetry/history"
MAX_SAMPLES = 1500
# A generous sample (many disks, NICs and GPUs) is a few KiB.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
TIMEOUT_S = 10.0


class HistoryAsk(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    seconds: float | None = Field(default=None, gt=0, le=7 * 86400)
    limit: int = Field(default=MAX_SAMPLES, ge=1, le=MAX_SAMPLES)


def thin(samples: list[T], limit: int) -> list[T]:
    """At most `limit` samples spread evenly over the span, the newest always kept."""
    if len(samples) <= limit:
        return samples
    step = len(samples) / limit
    picked = [samples[int(i * step)] for i in range(limit - 1)]
    return [*picked, samples[-1]]


def _unreachable(member: MemberView, why: str) -> ApiError:
    return ServiceUnavailable(
        f"node {member.name} did not answer for its telemetry: {why}",
        code="NODE_UNREACHABLE",
        details={"node_id": member.node_id},
    )


async def member_history(
    peers: PeerClient, member: MemberView, seconds: float | None
) -> TelemetryHistory:
    ask = HistoryAsk(seconds=seconds).model_dump()
    try:
        async with peers.stream(
            member.target, "POST", PATH, json_body=ask, timeout=TIMEOUT_S
        ) as response:
            if response.status_code != 200:
                raise _unreachable(member, f"it answered HTTP {response.status_code}")
            body = bytearray()
            async for block in response.aiter_bytes():
                body += block
                if len(body) > MAX_ANSWER_BYTES:
                    raise _unreachable(member, "its answer was too large")
    except (PeerUnreachable, httpx.HTTPError, OSError) as exc:
        raise _unreachable(member, str(exc)) from exc
    try:
        history = TelemetryHistory.model_validate_json(bytes(body))
    except ValidationError as exc:
        raise _unreachable(member, "its answer was not a telemetry history") from exc
    samples = [s for s in history.samples if s.node_id == member.node_id][:MAX_SAMPLES]
    return TelemetryHistory(node_id=member.node_id, samples=samples, count=len(samples))
