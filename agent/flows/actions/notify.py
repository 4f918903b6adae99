"""notify: an insight card on every member (through Pulse) and a `flow.notified` event.

One card per flow and step: a later notify of the same step replaces it. The card names the
flow by its id (a step's call carries no flow name).
"""

from __future__ import annotations

from typing import Any

from agent.core.notices import Notice
from agent.core.subsystem import Context
from agent.flows.actions.base import StepCall
from agent.flows.actions.bounds import missing, params_of, reported
from agent.flows.actions.params import NotifyParams
from agent.flows.events import FLOW_NOTIFIED, Notified


class Notify:
    name = "notify"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, NotifyParams)
        notices = self.ctx.notices
        if notices is None:
            raise missing("pulse", self.name)
        notice = Notice(
            title=params.title,
            message=params.message,
            severity=params.severity,
            source=f"flow {call.flow_name}",
            key=f"flow:{call.flow_id}:{call.step_id}",
        )
        with reported("the notice could not be shown"):
            insight_id = await notices.notify(notice)
        self.ctx.bus.publish(
            FLOW_NOTIFIED,
            Notified(
                flow_id=call.flow_id,
                run_id=call.run_id,
                title=params.title,
                message=params.message,
                severity=params.severity,
                insight_id=insight_id,
            ),
        )
        return {"insight_id": insight_id, "title": params.title}
