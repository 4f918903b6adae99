"""Pulse's domain logic: each evaluation, the cluster's one evaluator, the served table (its
rules' cards and the notices it holds, see notices.py), dismissals, history and the weekly
digest.

Every node evaluates every `pulse_interval` (so a node that becomes the evaluator already
knows since when each condition holds), but only the evaluator, the online member with the
smallest node id, serves its own cards; it pushes them to every member on each change and
every `PUSH_EVERY` intervals. A member takes a table only from the node it considers the
evaluator, or from one with a smaller id (for the moment their views of who is online
differ), and hearing from that one counts as seeing it online for a few intervals, so views
settle on one evaluator quickly.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import anyio

from agent.core.cluster import MemberView
from agent.core.errors import Conflict, NotFound
from agent.core.subsystem import Context
from agent.pulse import sync
from agent.pulse.evaluator import Evaluator, insight_id
from agent.pulse.ledger import Ledger
from agent.pulse.models import (
    Evaluation,
    Insight,
    InsightList,
    PeerInsightTable,
    PeerLedger,
    PeerNotice,
    PulseHistory,
    WeeklyDigest,
)
from agent.pulse.notices import NoticeBoard, is_notice, ordered
from agent.pulse.observe import observe_all
from agent.pulse.rulepack import load_rules
from agent.pulse.store import PulseStore
from agent.pulse.table import InsightTable, Signature, bounded, signature
from agent.pulse.weekly import WEEK_S, digest

log = logging.getLogger("openfabric.pulse")
KEPT_EVALUATIONS = 2000
PUSH_EVERY = 3
# A gap between evaluations longer than this many intervals (the agent was stopped, the
# machine slept) is not counted as time observed.
MAX_GAP_INTERVALS = 3
HEARD_INTERVALS = 3


class PulseService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.node_id = ctx.identity.node_id
        self.interval = ctx.settings.pulse_interval
        self.store = PulseStore(ctx.db)
        self.ledger = Ledger()
        self.table = InsightTable(ctx.bus)
        self.evaluator = Evaluator([])
        self.titles: dict[str, str] = {}
        self.notices = NoticeBoard()
        self.evaluations: deque[Evaluation] = deque(maxlen=KEPT_EVALUATIONS)
        self.revision = time.time_ns() // 1000  # keeps rising across restarts
        self.signature: Signature = ()
        self.evaluating = False
        self.last_tick: float | None = None
        self.known_since: dict[str, float] = {}  # when each member was first in the view
        self.heard: dict[str, float] = {}  # smaller-id evaluators heard from, and when
        self.wake = anyio.Event()

    async def load(self) -> None:
        """Read the rules (RulesError when they are wrong), then the saved ledger."""
        rules = load_rules(self.ctx.settings.pulse_rules)
        self.evaluator = Evaluator(rules)
        self.titles = {rule.id: rule.title for rule in rules}
        await self.store.migrate()
        await self.store.load_ledger(self.ledger, self.ledger.prune(self.ctx.clock()))

    # -- who evaluates --

    def evaluator_of(self, members: list[MemberView], now: float) -> MemberView | None:
        heard = {n for n, at in self.heard.items() if now - at < HEARD_INTERVALS * self.interval}
        able = [m for m in members if m.is_self or m.online or m.node_id in heard]
        return min(able, key=lambda m: m.node_id, default=None)

    def evaluator_id(self) -> str:
        found = self.evaluator_of(self.ctx.cluster.members(), self.ctx.clock())
        return found.node_id if found is not None else self.node_id

    # -- each evaluation --

    async def tick(self) -> None:
        now = self.ctx.clock()
        members = self.ctx.cluster.members()
        observations = observe_all(members, self._too_new(members, now))
        result = self.evaluator.evaluate(observations, now)
        self.evaluations.extend(result.evaluations)
        gap = 0.0 if self.last_tick is None else now - self.last_tick
        self.last_tick = now
        self.ledger.observe(
            observations, now, gap if gap <= MAX_GAP_INTERVALS * self.interval else 0
        )
        oldest = self.ledger.prune(now)
        await self.store.add_changes(result.changes)
        await self.store.save_ledger(self.ledger, oldest)
        self.serve_own(members, now)

    def _too_new(self, members: list[MemberView], now: float) -> set[str]:
        """Members in the view for less than `offline_after`: one not heard from yet is not
        known to be offline (to a node that just started, every member is, at first)."""
        self.known_since = {m.node_id: self.known_since.get(m.node_id, now) for m in members}
        wait = self.ctx.settings.offline_after
        return {node for node, since in self.known_since.items() if now - since < wait}

    def serve_own(self, members: list[MemberView], now: float) -> None:
        """On the evaluator: serve its own cards (and have them pushed) when they changed."""
        chosen = self.evaluator_of(members, now)
        if chosen is not None and chosen.node_id != self.node_id:
            self.evaluating = False
            return
        if not self.evaluating:
            if self.table.origin != self.node_id:
                self.evaluator.adopt_dismissals(list(self.table.cards.values()))
                self.notices.adopt(list(self.table.cards.values()), now)
            self.evaluating = True
        cards = bounded(ordered([*self.evaluator.cards(), *self.notices.active(now)]))
        if signature(cards) != self.signature or self.table.origin != self.node_id:
            self.revision += 1
            self.signature = self.table.replace(cards, self.node_id, self.revision)
            self.wake.set()

    async def push_now_and_then(self) -> None:
        while True:
            with anyio.move_on_after(self.interval * PUSH_EVERY):
                await self.wake.wait()
            self.wake = anyio.Event()
            if self.evaluating and self.table.origin == self.node_id:
                table = PeerInsightTable(
                    revision=self.table.revision, insights=list(self.table.cards.values())
                )
                await sync.push_table(self.ctx.peers, self.ctx.cluster.members(), table)

    # -- what members send --

    def receive(self, table: PeerInsightTable, sender: str) -> bool:
        """A table pushed by `sender`: Conflict NOT_EVALUATOR unless it may evaluate."""
        expected = self.evaluator_id()
        if sender > expected:
            raise Conflict(
                f"{sender} is not the evaluating node ({expected} is)",
                code="NOT_EVALUATOR",
                details={"evaluator": expected},
            )
        for card in table.insights:
            if not is_notice(card) and card.id != insight_id(card.rule, card.node_id, card.subject):
                raise Conflict(f"card {card.id[:80]} does not match its rule and node")
        if sender < expected:
            self.heard[sender] = self.ctx.clock()
        if sender != self.node_id:
            self.evaluating = False
        return self.table.accept(table, sender)

    # -- the API --

    def insights(self, include_dismissed: bool) -> InsightList:
        cards = self.table.listing(include_dismissed)
        return InsightList(insights=cards, count=len(cards), evaluator=self.evaluator_id())

    async def dismiss(self, key: str) -> Insight:
        members = self.ctx.cluster.members()
        chosen = self.evaluator_of(members, self.ctx.clock())
        if chosen is None or chosen.node_id == self.node_id:
            return await self.dismiss_here(key)
        card = await sync.forward_dismiss(self.ctx.peers, chosen, key)
        self.table.mark_dismissed(card)
        return card

    async def dismiss_here(self, key: str) -> Insight:
        """Dismiss on this node as the evaluator (Conflict NOT_EVALUATOR otherwise)."""
        expected = self.evaluator_id()
        if expected != self.node_id:
            raise Conflict("this node is not evaluating", code="NOT_EVALUATOR")
        now = self.ctx.clock()
        notice = self.notices.dismiss(key, now)
        if notice is not None:
            self.serve_own(self.ctx.cluster.members(), now)
            return notice
        done = self.evaluator.dismiss(key, now)
        if done is None:
            raise NotFound(f"no active insight {key}", code="INSIGHT_NOT_FOUND")
        card, change = done
        if change is not None:
            await self.store.add_changes([change])
            self.serve_own(self.ctx.cluster.members(), now)
        return card

    # -- notices --

    async def notify(self, notice: PeerNotice) -> Insight:
        """Hold `notice` as a card on the evaluator (forwarded there unless this node is it);
        ServiceUnavailable PULSE_EVALUATOR_UNAVAILABLE when the evaluator cannot be asked."""
        chosen = self.evaluator_of(self.ctx.cluster.members(), self.ctx.clock())
        if chosen is None or chosen.node_id == self.node_id:
            return self.notice_here(notice, self.node_id)
        card = await sync.forward_notice(self.ctx.peers, chosen, notice)
        # Shown here at once, before the evaluator's next table comes.
        others = [c for c in self.table.cards.values() if c.id != card.id]
        origin = self.table.origin or chosen.node_id
        self.table.replace(bounded(ordered([*others, card])), origin, self.table.revision)
        return card

    def notice_here(self, notice: PeerNotice, sender: str) -> Insight:
        """Hold a notice `sender` raised, as the evaluator (Conflict NOT_EVALUATOR otherwise)."""
        expected = self.evaluator_id()
        if expected != self.node_id:
            raise Conflict(
                "this node is not evaluating",
                code="NOT_EVALUATOR",
                details={"evaluator": expected},
            )
        now = self.ctx.clock()
        member = self.ctx.cluster.member(sender)
        card = self.notices.raise_notice(notice, sender, member.name if member else sender, now)
        self.serve_own(self.ctx.cluster.members(), now)
        return card

    async def history(self, rule: str | None, node: str | None, limit: int) -> PulseHistory:
        evaluations = [
            e
            for e in reversed(self.evaluations)
            if (rule is None or e.rule == rule) and (node is None or e.node_id == node)
        ][:limit]
        changes = await self.store.changes(rule=rule, node=node, limit=limit)
        return PulseHistory(
            evaluations=evaluations, changes=changes, count=len(evaluations) + len(changes)
        )

    def own_ledger(self, since: float, until: float) -> PeerLedger:
        return self.ledger.summary(since, until)

    async def weekly(self) -> WeeklyDigest:
        now = self.ctx.clock()
        members = self.ctx.cluster.members()
        others, missing = await sync.fetch_ledgers(self.ctx.peers, members, now - WEEK_S, now)
        changes = list(reversed(await self.store.changes(until=now)))
        return digest(now, self.ledger, others, changes, self.titles, missing)
