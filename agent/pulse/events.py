"""Topics Pulse publishes. Every member publishes each change of the cluster's insight table
once on its own bus, whichever node evaluated it, so a client of any member sees it once."""

from __future__ import annotations

from typing import Any

from agent.core.events import Topic
from agent.pulse.models import Insight

PULSE_INSIGHT_RAISED = Topic(
    "pulse.insight.raised",
    Insight,
    "An insight card appeared, or its severity rose (warning to critical).",
)
PULSE_INSIGHT_CLEARED = Topic(
    "pulse.insight.cleared",
    Insight,
    "An insight card went away: its condition cleared (the card as it was last shown).",
)

TOPICS: tuple[Topic[Any], ...] = (PULSE_INSIGHT_RAISED, PULSE_INSIGHT_CLEARED)
