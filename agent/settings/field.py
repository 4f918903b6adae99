"""How a row of the settings table is declared."""

from __future__ import annotations

from dataclasses import field
from typing import Any


class SettingsError(Exception):
    """A setting or the config file is invalid; the agent must not start."""


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    meta = {"help": help, "choices": choices, "minimum": minimum, "maximum": maximum}
    return field(default=default, metadata=meta)
