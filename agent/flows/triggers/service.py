"""Every trigger of the flows this node owns: cron and interval on one timer loop, events and
shared-storage changes through one bus subscription, local folders through watchfiles."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import anyio

from agent.core.bus import Event, EventBus
from agent.flows.clock import Clock
from agent.flows.definition import CronTrigger, EventTrigger, FileTrigger, IntervalTrigger
from agent.flows.triggers.cron import CronSchedule
from agent.flows.triggers.dispatch import Dispatcher
from agent.flows.triggers.events import EventTriggers, EventWatch, Subscriber
from agent.flows.triggers.filters import compile_filter
from agent.flows.triggers.globs import compile_glob, fixed_root
from agent.flows.triggers.interval import IntervalSchedule
from agent.flows.triggers.local_files import LocalFiles, PathWatch
from agent.flows.triggers.model import ArmedFlow, Firing, TriggerKey, relayed
from agent.flows.triggers.shared_files import STORAGE_TOPICS, SharedFiles, StorageWatch
from agent.flows.triggers.timers import Plan, TimerLoop

log = logging.getLogger("openfabric.flows")


class Triggers:
    def __init__(
        self,
        *,
        bus: EventBus,
        clock: Clock,
        fire: Callable[[Firing], Awaitable[None]],
        last_fired: Callable[[str, int], float | None],
        list_storage: Callable[[], Awaitable[dict[str, str]]],
    ) -> None:
        self._clock = clock
        self.dispatcher = Dispatcher(fire)
        submit = self.dispatcher.submit
        self.timers = TimerLoop(clock, submit, last_fired)
        self.events = EventTriggers(clock, submit)
        self.relays = EventTriggers(clock, self._submit_relay)
        self.shared_files = SharedFiles(clock, submit, list_storage)
        self.local_files = LocalFiles(clock, submit)
        self._subscriber = Subscriber(bus)
        self._topics: set[str] = set()

    def arm(self, flows: Sequence[ArmedFlow]) -> None:
        """Arm exactly `flows` (the enabled flows this node owns now, and those it relays
        events of), replacing the set."""
        plans: dict[TriggerKey, Plan] = {}
        events: dict[TriggerKey, EventWatch] = {}
        relays: dict[TriggerKey, EventWatch] = {}
        storage: dict[TriggerKey, StorageWatch] = {}
        paths: dict[TriggerKey, PathWatch] = {}
        catch_up: set[TriggerKey] = set()
        for flow in flows:
            for index, trigger in enumerate(flow.definition.triggers):
                key = (flow.flow_id, index)
                try:
                    if flow.relay:
                        if isinstance(trigger, EventTrigger) and relayed(trigger.event):
                            check = compile_filter(trigger.filter) if trigger.filter else None
                            relays[key] = EventWatch(trigger.event, check, trigger)
                    elif isinstance(trigger, CronTrigger):
                        schedule = CronSchedule(trigger.cron, trigger.timezone)
                        plans[key] = Plan("cron", schedule, trigger)
                    elif isinstance(trigger, IntervalTrigger):
                        plans[key] = Plan("interval", IntervalSchedule(trigger.interval), trigger)
                    elif isinstance(trigger, EventTrigger):
                        check = compile_filter(trigger.filter) if trigger.filter else None
                        events[key] = EventWatch(trigger.event, check, trigger)
                    elif isinstance(trigger, FileTrigger):
                        if flow.foreign and trigger.file.path is not None:
                            raise ValueError("a flow saved on another member reads no folder here")
                        _watch_files(key, trigger, storage, paths)
                except ValueError as exc:
                    log.warning("flow %s: trigger %d not armed: %s", flow.flow_id, index, exc)
                    continue
                if flow.definition.catch_up and key in plans:
                    catch_up.add(key)
        added = self.timers.arm(plans)
        now = self._clock.now()
        for key in added:
            if key in catch_up:
                self.timers.catch_up(key, now)
        self.events.arm(events)
        self.relays.arm(relays)
        self.shared_files.arm(storage)
        self.local_files.arm(paths)
        self._topics = self.events.topics | self.relays.topics
        self._topics |= set(STORAGE_TOPICS) if storage else set()
        self._subscriber.follow(self._topics)

    def next_at(self, flow_id: str, trigger_index: int) -> float | None:
        return self.timers.next_at((flow_id, trigger_index))

    async def run(self) -> None:
        self._subscriber.follow(self._topics)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.dispatcher.run)
                tg.start_soon(self.timers.run)
                tg.start_soon(self.shared_files.run)
                tg.start_soon(self.local_files.run)
                tg.start_soon(self._read_events)
        finally:
            self._subscriber.close()

    async def _read_events(self) -> None:
        while True:
            event = await self._subscriber.next()
            if event.topic in STORAGE_TOPICS:
                self.shared_files.changed()
            await self.events.handle(event)
            if relayed(event.topic):
                await self.relays.handle(event)

    def _submit_relay(self, firing: Firing) -> bool:
        return self.dispatcher.submit(replace(firing, relay=True))

    async def take_relayed(
        self, key: TriggerKey, topic: str, event_id: int, data: dict[str, Any]
    ) -> bool | None:
        """An event a member relayed for a trigger this node owns: through the same rate
        bound and filter as the events of this node. Whether it fired; None when the trigger
        is not armed here."""
        watch = self.events.watches.get(key)
        if watch is None:
            return None
        fired: list[Firing] = []

        def submit(firing: Firing) -> bool:
            fired.append(firing)
            return self.dispatcher.submit(firing)

        # The watch itself, so its rate window is the one local events count in.
        one = EventTriggers(self._clock, submit)
        one.watches = {key: watch}
        await one.handle(Event(seq=event_id, topic=topic, data=data, ts=self._clock.now()))
        return bool(fired)


def _watch_files(
    key: TriggerKey,
    trigger: FileTrigger,
    storage: dict[TriggerKey, StorageWatch],
    paths: dict[TriggerKey, PathWatch],
) -> None:
    on = frozenset(trigger.file.on)
    if trigger.file.storage is not None:
        glob = trigger.file.storage.lstrip("/")
        storage[key] = StorageWatch(compile_glob(glob), on, trigger)
    elif trigger.file.path is not None:
        glob = os.path.abspath(os.path.expanduser(trigger.file.path))
        paths[key] = PathWatch(compile_glob(glob), fixed_root(glob), on, trigger)
