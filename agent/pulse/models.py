"""Pulse's wire shapes: what its routes answer, what the OpenAPI document publishes and what
the SDK parses. Answers are `Answer`s."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from agent.core.wire import Answer, StrictModel

Severity = Literal["info", "warning", "critical"]
Status = Literal["ok", "warning", "critical"]


class Insight(Answer):
    id: str = Field(description="Stable for one condition: `<rule>:<node_id>[:<subject>]`")
    rule: str
    severity: Severity
    title: str
    what: str = Field(description="What is happening, with the figures")
    why: str = Field(description="Why it matters")
    action: str = Field(description="What to do about it")
    since: float = Field(description="When the condition began (epoch seconds)")
    updated_at: float = Field(description="When the card last changed")
    node_id: str | None = Field(description="The node it is about; null for the whole cluster")
    node_name: str | None
    subject: str | None = Field(description="What on the node (a mount point, a GPU...)")
    value: float | None = Field(description="The measured value that raised it")
    dismissed: bool = Field(
        description="Dismissed cards stay hidden until the condition clears and comes back"
    )
    source: str | None = Field(
        default=None, description="Who raised a notice card (e.g. a flow); null for a rule's"
    )


class InsightList(Answer):
    insights: list[Insight] = Field(description="Critical first, then newest")
    count: int
    evaluator: str | None = Field(description="The node evaluating the rules now")


class Evaluation(Answer):
    at: float
    rule: str
    node_id: str | None
    subject: str | None
    value: float | None
    status: Status = Field(description="The status the thresholds give, after hysteresis")


class StateChange(Answer):
    at: float
    insight_id: str
    rule: str
    node_id: str | None
    from_status: Status
    to_status: Status
    dismissed: bool = Field(description="True for a dismissal (status unchanged)")


class PulseHistory(Answer):
    evaluations: list[Evaluation] = Field(description="Most recent first")
    changes: list[StateChange] = Field(description="Most recent first")
    count: int = Field(description="Evaluations and changes answered")


class NodeUptime(Answer):
    node_id: str
    node_name: str
    online_s: float
    uptime_percent: float = Field(description="Online share of the time it was a member")


class TaskCounts(Answer):
    node_id: str | None = Field(description="Where they ran; null for the cluster's total")
    run: int
    failed: int


class StorageGrowth(Answer):
    start_bytes: int
    end_bytes: int
    growth_bytes: int


class TokenCount(Answer):
    model: str
    node_id: str
    tokens: int = Field(description="Tokens generated")


class InsightTally(Answer):
    rule: str
    title: str
    raised: int = Field(description="Times raised in the period")
    active_s: float = Field(description="Seconds active in the period")


class WeeklyDigest(Answer):
    since: float
    until: float
    uptime: list[NodeUptime]
    tasks: list[TaskCounts] = Field(description="The cluster's total first, then per node")
    storage: StorageGrowth
    tokens: list[TokenCount] = Field(description="Most tokens first")
    top_insights: list[InsightTally] = Field(description="Most raised first, at most 10")
    missing: list[str] = Field(description="Members that could not be asked for their figures")


# --- between members (peer channel) ------------------------------------------------------

MAX_CARDS = 500
MAX_CARD_TEXT = 2000
MAX_LEDGER_ROWS = 4096
MAX_NAME = 256
MAX_NOTICE_TITLE = 200


class PeerInsightTable(StrictModel):
    """The evaluator's whole table, pushed to every member on each change and now and then."""

    revision: int = Field(ge=0, le=2**62, description="Rises with every change of the table")
    insights: list[Insight] = Field(max_length=MAX_CARDS)

    @model_validator(mode="after")
    def _bounded_text(self) -> PeerInsightTable:
        for card in self.insights:
            for text in (card.id, card.rule, card.title, card.what, card.why, card.action):
                if len(text) > MAX_CARD_TEXT:
                    raise ValueError(f"a card's text is longer than {MAX_CARD_TEXT} characters")
            for name in (card.node_id, card.node_name, card.subject, card.source):
                if name is not None and len(name) > MAX_NAME:
                    raise ValueError(f"a card's node or subject is longer than {MAX_NAME}")
        if len({card.id for card in self.insights}) != len(self.insights):
            raise ValueError("a card id appears twice")
        return self


class PeerNotice(StrictModel):
    """A notice a member raises, for the evaluator to hold as a card (the sender is recorded
    as the card's node)."""

    title: str = Field(min_length=1, max_length=MAX_NOTICE_TITLE)
    message: str = Field(max_length=MAX_CARD_TEXT)
    severity: Severity
    source: str = Field(min_length=1, max_length=MAX_NAME)
    key: str = Field(min_length=1, max_length=MAX_NAME)


class PeerTableAnswer(Answer):
    accepted: bool = Field(description="False when it is older than a table already held")


class PeerDismissBody(StrictModel):
    insight_id: str = Field(min_length=1, max_length=MAX_CARD_TEXT)


class PeerLedgerBody(StrictModel):
    since: float = Field(ge=0, le=2**40)
    until: float = Field(ge=0, le=2**40)


class LedgerTasks(StrictModel):
    node_id: str | None = Field(max_length=MAX_NAME)
    run: int = Field(ge=0, le=2**40)
    failed: int = Field(ge=0, le=2**40)


class LedgerTokens(StrictModel):
    model: str = Field(max_length=MAX_NAME)
    node_id: str = Field(max_length=MAX_NAME)
    tokens: int = Field(ge=0, le=2**50)


class PeerLedger(StrictModel):
    """A member's own ledger summed over a period: tasks it owned, generations it was asked."""

    tasks: list[LedgerTasks] = Field(max_length=MAX_LEDGER_ROWS)
    tokens: list[LedgerTokens] = Field(max_length=MAX_LEDGER_ROWS)
