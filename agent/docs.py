"""Regenerates the generated docs: `python -m agent.docs`.

- docs/settings.md from the settings table (`agent/settings/`);
- docs/events.md from the event catalogue (`agent/topics.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent.core.events import topic_markdown
from agent.settings import settings_markdown
from agent.topics import all_topics

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC = DOCS / "settings.md"
EVENTS_DOC = DOCS / "events.md"
HEADER = """# Settings

Every setting can be given as a flag of `openfabric serve`, as an environment variable, or as a
key of the YAML config file (`--config FILE`, `$OPENFABRIC_CONFIG`, or `<home>/config.yaml`).
Precedence: flag > environment > config file > default. An invalid value or an unreadable config
file stops the agent with one message naming the setting and where the value came from
(exit code 2).

This file is generated from `agent/settings/` by `python -m agent.docs`.

"""
EVENTS_HEADER = """# Events

Every topic the agent publishes on its event bus, with the fields of its payload. Subscribe
with `GET /api/events?topics=PREFIX,...` (Server-Sent Events: `event:` is the topic, `data:`
the payload as JSON, `id:` the sequence number to resume from with `Last-Event-ID`), with
`openfabric events`, or with the SDK's `AgentClient.events()`. A topic filter matches the
topic itself and every topic below it (`task` matches `task.running`).

This file is generated from each subsystem's `events.py` by `python -m agent.docs`.

"""


def render() -> str:
    return HEADER + settings_markdown() + "\n"


def render_events() -> str:
    return EVENTS_HEADER + topic_markdown(all_topics())


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    EVENTS_DOC.write_text(render_events(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC} and {EVENTS_DOC}\n")
