"""Rendering: json, yaml or a human table, plus the units humans read (GiB, "2s ago")."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import yaml
from pydantic import BaseModel

FORMATS = ("table", "json", "yaml")
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def render(data: Any, fmt: str, table: Callable[[Any], str]) -> str:
    """`data` as the format asks; `table` turns it into the human view. A model (an SDK
    answer) is written as the JSON the agent sent."""
    if fmt == "json":
        return json.dumps(plain_json(data), indent=2)
    if fmt == "yaml":
        return yaml.safe_dump(plain_json(data), sort_keys=False).rstrip("\n")
    return table(data)


def plain_json(data: Any) -> Any:
    """`data` as JSON values: a model as the JSON the agent sent, anything else as it is."""
    return data.model_dump(mode="json") if isinstance(data, BaseModel) else data


def compact_json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(headers), *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    width = max((len(key) for key, _ in items), default=0)
    return "\n".join(f"{key.ljust(width)}  {value}".rstrip() for key, value in items)


def size(value: float | None) -> str:
    if value is None:
        return "-"
    amount = float(value)
    for unit in _UNITS:
        if abs(amount) < 1024 or unit == _UNITS[-1]:
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = int(max(seconds, 0))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def ago(timestamp: float | None, now: float | None = None) -> str:
    if not timestamp:
        return "never"
    elapsed = (time.time() if now is None else now) - timestamp
    return f"{duration(elapsed).split(' ')[0]} ago"


def clock(timestamp: float) -> str:
    """Local wall-clock time of a Unix timestamp, to the second."""
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def short_id(node_id: str, length: int = 12) -> str:
    return node_id if len(node_id) <= length else node_id[:length]
