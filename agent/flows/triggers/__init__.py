"""Flow triggers: when the flows this node owns run (cron, interval, event, file)."""

from agent.flows.triggers.cron import validate_cron
from agent.flows.triggers.model import ArmedFlow, Firing
from agent.flows.triggers.service import Triggers

__all__ = ["ArmedFlow", "Firing", "Triggers", "validate_cron"]
