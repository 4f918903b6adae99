"""Parsing Server-Sent Events, the format of every stream the agent sends."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.client.events import StreamEvent


@dataclass
class SSEParser:
    """Incremental Server-Sent Events parser, fed one line at a time (without line ending).

    Follows the WHATWG rules the agent relies on: `data:` lines join with newlines, lines
    starting with ':' are comments (keep-alives), a blank line dispatches. `data` is decoded
    as JSON when it is JSON, else kept as text.
    """

    _topic: str = ""
    _id: int | None = None
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> StreamEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._topic = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            try:
                self._id = int(value)
            except ValueError:
                self._id = None
        return None

    def _dispatch(self) -> StreamEvent | None:
        topic, event_id, data = self._topic, self._id, self._data
        self._topic, self._id, self._data = "", None, []
        if not data:
            return None
        text = "\n".join(data)
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = text
        return StreamEvent(id=event_id, topic=topic or "message", data=payload)


def parse_sse(lines: Iterable[str]) -> Iterator[StreamEvent]:
    """Parse a complete SSE text given as lines; an unterminated last event is dropped."""
    parser = SSEParser()
    for line in lines:
        event = parser.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
