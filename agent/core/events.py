"""Event topics as data: a name, the model of its payload, and what it means.

Each subsystem's `events.py` declares its topics as `Topic` constants and lists them in
`TOPICS`; the bus only publishes a `Topic` with a payload of its model, so an event's shape is
the published one. `docs/events.md` is generated from the catalogue (`python -m agent.docs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Topic(Generic[P]):
    name: str
    payload: type[P]
    summary: str
    # False for samples the next one supersedes: sent live, never kept for replay.
    replay: bool = True

    def data(self, payload: P) -> dict[str, Any]:
        """The JSON form subscribers receive."""
        if not isinstance(payload, self.payload):
            raise TypeError(f"{self.name} carries {self.payload.__name__}, not {type(payload)}")
        return payload.model_dump(mode="json")


def topic_markdown(topics: list[Topic[Any]]) -> str:
    """One section per topic: its meaning and its payload's fields."""
    lines: list[str] = []
    for topic in sorted(topics, key=lambda t: t.name):
        lines += [
            f"## `{topic.name}`",
            "",
            topic.summary
            + ("" if topic.replay else " Live only: not kept for Last-Event-ID replay."),
            "",
            f"Payload: `{topic.payload.__name__}`",
        ]
        schema = topic.payload.model_json_schema(mode="serialization")
        required = set(schema.get("required", []))
        lines += ["", "| Field | Type | Description |", "|---|---|---|"]
        for name, field in schema.get("properties", {}).items():
            kind = _type_of(field)
            optional = "" if name in required else " (optional)"
            description = field.get("description", "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{name}` | {kind}{optional} | {description} |")
        lines.append("")
    return "\n".join(lines)


def _type_of(field: dict[str, Any]) -> str:
    if "$ref" in field:
        return str(field["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in field:
        return " or ".join(_type_of(f) for f in field["anyOf"])
    kind = field.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(field.get('items', {}))}"
    return str(kind)
