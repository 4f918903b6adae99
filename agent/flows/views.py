"""Flows as the API answers them: a stored record and its definition, with who runs its
triggers now, when each fires next and its last run."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256

from agent.flows.definition import (
    CronTrigger,
    EventTrigger,
    FileTrigger,
    FlowDefinition,
    IntervalTrigger,
    Trigger,
)
from agent.flows.models import Flow, FlowRun, RunSummary, TriggerKind, TriggerView
from agent.flows.store import StoredFlow

RESERVED_IDS = frozenset({"schema"})
MAX_ID = 80


@dataclass(frozen=True)
class Loaded:
    """A live flow of the store, with its definition (None: its source does not parse on
    this version of the agent; it is listed, never run)."""

    stored: StoredFlow
    definition: FlowDefinition | None

    @property
    def flow_id(self) -> str:
        return self.stored.record.flow_id

    @property
    def name(self) -> str:
        if self.definition is not None:
            return self.definition.name
        return self.stored.name or self.flow_id


def slug(name: str) -> str:
    """The id a flow gets from its name: lowercase ASCII letters, digits and dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_ID].strip("-")
    return text or "flow-" + sha256(name.encode()).hexdigest()[:12]


def trigger_summary(trigger: Trigger) -> tuple[TriggerKind, str]:
    if isinstance(trigger, CronTrigger):
        return "cron", f"cron {trigger.cron} ({trigger.timezone})"
    if isinstance(trigger, IntervalTrigger):
        return "interval", f"every {trigger.interval:g} s"
    if isinstance(trigger, EventTrigger):
        where = f" where {trigger.filter}" if trigger.filter else ""
        return "event", f"event {trigger.event}{where}"
    if isinstance(trigger, FileTrigger):
        watch = trigger.file
        place = f"storage {watch.storage}" if watch.storage else f"path {watch.path}"
        return "file", f"file {place} ({', '.join(watch.on)})"
    return "manual", "manual"


def summary(run: FlowRun) -> RunSummary:
    return RunSummary(
        id=run.id,
        state=run.state,
        trigger=run.trigger.kind,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def flow_view(
    loaded: Loaded,
    *,
    owner: str | None,
    next_at: Callable[[str, int], float | None],
    last_run: FlowRun | None,
) -> Flow:
    stored, definition = loaded.stored, loaded.definition
    record = stored.record
    triggers: list[TriggerView] = []
    if definition is not None:
        for index, trigger in enumerate(definition.triggers):
            kind, text = trigger_summary(trigger)
            timed = kind in ("cron", "interval")
            triggers.append(
                TriggerView(
                    kind=kind,
                    summary=text,
                    next_at=next_at(record.flow_id, index) if timed and record.enabled else None,
                )
            )
    return Flow(
        id=record.flow_id,
        name=loaded.name,
        description=definition.description if definition else "",
        enabled=record.enabled,
        mode=definition.mode if definition else "single",
        max=definition.max if definition else 1,
        source=record.source,
        format=record.format,
        definition=json.loads(stored.definition) if stored.definition else {},
        triggers=triggers,
        author=record.author,
        owner=owner,
        version=record.version,
        created_at=stored.created_at,
        updated_at=record.updated_at,
        last_run=summary(last_run) if last_run else None,
    )
