"""Each setting's row as data: its kind, bounds, flag and environment variable, and how a raw
value from a flag, the environment or the config file is parsed and checked."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.settings.field import SettingsError
from agent.settings.table import Settings

ENV_PREFIX = "OPENFABRIC_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[str, ...]
    minimum: float | None
    maximum: float | None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, raw: Any, source: str) -> Any:
        value = self._convert(raw, source)
        if self.choices and value not in self.choices:
            raise SettingsError(
                f"{self.name} must be one of {', '.join(self.choices)}, got {raw!r} ({source})"
            )
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"{self.name} must be >= {self.minimum}, got {raw!r} ({source})")
        if self.maximum is not None and value > self.maximum:
            raise SettingsError(f"{self.name} must be <= {self.maximum}, got {raw!r} ({source})")
        return value

    def _convert(self, raw: Any, source: str) -> Any:
        wrong = SettingsError(f"{self.name} must be {self.kind.__name__}, got {raw!r} ({source})")
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise wrong
        if self.kind in (int, float):
            if isinstance(raw, bool):
                raise wrong
            if isinstance(raw, int | float) and not (self.kind is int and isinstance(raw, float)):
                return self.kind(raw)
            try:
                return self.kind(str(raw).strip())
            except ValueError:
                raise wrong from None
        if self.kind is tuple:
            return self._paths(raw, wrong)
        if self.kind is Path:
            if not isinstance(raw, str | Path) or not str(raw).strip():
                raise wrong
            return Path(str(raw)).expanduser()
        if not isinstance(raw, str):
            raise wrong
        return raw.strip() if self.choices == () else raw.strip().lower()

    def _paths(self, raw: Any, wrong: SettingsError) -> tuple[Path, ...]:
        """A list (config file) or a string of paths joined by os.pathsep (flag, environment);
        each is made absolute, so a source means the same whatever the working directory."""
        if isinstance(raw, str):
            items: list[Any] = [p for p in raw.split(os.pathsep) if p.strip()]
        elif isinstance(raw, list | tuple):
            items = list(raw)
        else:
            raise wrong
        if not all(isinstance(p, str | Path) and str(p).strip() for p in items):
            raise wrong
        return tuple(Path(str(p).strip()).expanduser().absolute() for p in items)


def _kind(annotation: str) -> type:
    kinds = {"Path": Path, "str": str, "int": int, "float": float, "bool": bool}
    return tuple if annotation.startswith("tuple[") else kinds[annotation]


SETTINGS: tuple[SettingSpec, ...] = tuple(
    SettingSpec(
        name=f.name,
        kind=_kind(str(f.type)),
        default=f.default,
        help=f.metadata["help"],
        choices=f.metadata["choices"],
        minimum=f.metadata["minimum"],
        maximum=f.metadata["maximum"],
    )
    for f in dataclasses.fields(Settings)
)
BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SETTINGS}
