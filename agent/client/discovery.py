"""Finding the local agent: its URL and token, the way the CLI and the SDK do."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:4892"
URL_ENV = "OPENFABRIC_URL"
TOKEN_ENV = "OPENFABRIC_TOKEN"


def discover(
    home: Path | None = None,
    url: str | None = None,
    *,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[str, str | None]:
    """Find the local agent's base URL and token.

    URL: `url` > $OPENFABRIC_URL > `<home>/agent.json` "url" > http://127.0.0.1:4892.
    Token: $OPENFABRIC_TOKEN > `<home>/local.token` > None. `home` defaults to the agent's
    settings (so $OPENFABRIC_HOME and the config file apply); an invalid config raises
    `agent.settings.SettingsError`.
    """
    env = os.environ if env is None else env
    if home is None:
        from agent.settings import load_settings

        home = load_settings(env=env, config=config).home
    home = home.expanduser()
    base = url or env.get(URL_ENV) or _agent_file_url(home) or DEFAULT_URL
    token = env.get(TOKEN_ENV) or _read_token(home)
    return base.rstrip("/"), token


def _agent_file_url(home: Path) -> str | None:
    try:
        info = json.loads((home / "agent.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = info.get("url") if isinstance(info, dict) else None
    return found if isinstance(found, str) and found else None


def _read_token(home: Path) -> str | None:
    try:
        token = (home / "local.token").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None
