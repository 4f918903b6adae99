"""Publishing on the bus from tests: a topic of any name whose payload takes any fields."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from agent.core.bus import Event, EventBus
from agent.core.events import Topic
from agent.core.wire import Answer


class Loose(Answer):
    model_config = ConfigDict(extra="allow")


def publish(bus: EventBus, name: str, data: dict[str, Any]) -> Event:
    return bus.publish(Topic(name, Loose, "a test topic"), Loose(**data))
