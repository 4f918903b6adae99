"""Fabric Pulse calls (the cluster's insight cards, check history and weekly digest), mixed
into `AgentClient`.

    async with AgentClient(*discover()) as client:
        for card in (await client.pulse_insights()).insights:
            print(card.severity, card.title, card.what)
        digest = await client.pulse_weekly()

Any member answers for the whole cluster: one node evaluates the rules and every other
member serves the same cards.
"""

from __future__ import annotations

from urllib.parse import quote

from agent.client.transport import Transport
from agent.pulse.models import Insight, InsightList, PulseHistory, WeeklyDigest


class PulseMixin(Transport):
    async def pulse_insights(self, include_dismissed: bool = False) -> InsightList:
        """The active cards, critical first, then newest; with `include_dismissed`, the
        dismissed ones too (`dismissed=True`)."""
        params = {"include_dismissed": "true"} if include_dismissed else None
        response = await self._request("GET", "/api/pulse/insights", params=params)
        return self._model(response, InsightList)

    async def pulse_dismiss(self, insight_id: str) -> Insight:
        """Hide a card until its condition clears and comes back (or escalates); answers the
        card, now `dismissed` (INSIGHT_NOT_FOUND)."""
        path = f"/api/pulse/insights/{quote(insight_id, safe='')}/dismiss"
        return self._model(await self._request("POST", path), Insight)

    async def pulse_history(
        self, rule: str | None = None, node: str | None = None, limit: int = 200
    ) -> PulseHistory:
        """Recent evaluations and state changes, most recent first: only `rule`'s, only
        those about `node`, at most `limit` of each (VALIDATION_ERROR outside 1..1000)."""
        params = {"limit": str(limit)}
        if rule is not None:
            params["rule"] = rule
        if node is not None:
            params["node"] = node
        response = await self._request("GET", "/api/pulse/history", params=params)
        return self._model(response, PulseHistory)

    async def pulse_weekly(self) -> WeeklyDigest:
        """The last 7 days: uptime per member, tasks run and failed, storage growth, tokens
        per model and node, the insights raised most; members that could not be asked are
        named in `missing`."""
        return await self._get_model("/api/pulse/weekly", WeeklyDigest)
