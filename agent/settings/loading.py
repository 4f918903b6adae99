"""Resolving the settings: flag > environment > config file > default; and their docs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agent.settings.field import SettingsError
from agent.settings.spec import BY_NAME, SETTINGS, SettingSpec
from agent.settings.table import Settings

CONFIG_ENV = "OPENFABRIC_CONFIG"


def read_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise SettingsError(f"config file {path} does not exist") from None
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must be a mapping of setting names to values")
    unknown = sorted(str(k) for k in data if str(k).replace("-", "_") not in BY_NAME)
    if unknown:
        raise SettingsError(f"config file {path} has unknown settings: {', '.join(unknown)}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config: Path | None = None,
) -> Settings:
    """Resolve every setting: flag > environment > config file > default.

    `flags` holds only the options given on the command line. The config file is `config`
    (or $OPENFABRIC_CONFIG) when given, which must then exist; otherwise `<home>/config.yaml`
    if present.
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    explicit = config or (Path(env[CONFIG_ENV]).expanduser() if env.get(CONFIG_ENV) else None)
    if explicit is None:
        home = _resolve(BY_NAME["home"], flags, env, {})
        file_values = read_config_file(home / "config.yaml", required=False)
    else:
        file_values = read_config_file(explicit, required=True)
    values = {spec.name: _resolve(spec, flags, env, file_values) for spec in SETTINGS}
    return Settings(**values)


def _resolve(
    spec: SettingSpec, flags: Mapping[str, Any], env: Mapping[str, str], file: Mapping[str, Any]
) -> Any:
    if spec.name in flags:
        return spec.parse(flags[spec.name], f"flag {spec.flag}")
    if spec.env in env:
        return spec.parse(env[spec.env], f"environment {spec.env}")
    if spec.name in file:
        return spec.parse(file[spec.name], "config file")
    return spec.parse(spec.default, "default")


def settings_markdown() -> str:
    rows = ["| setting | flag | environment | default | description |", "|---|---|---|---|---|"]
    for spec in SETTINGS:
        default = f"`{spec.default}`" if spec.default not in ("", ()) else "(empty)"
        rows.append(f"| `{spec.name}` | `{spec.flag}` | `{spec.env}` | {default} | {spec.help} |")
    return "\n".join(rows)
