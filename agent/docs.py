"""Regenerates docs/settings.md from the settings table: `python -m agent.docs`."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.settings import settings_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
HEADER = """# Settings

Every setting can be given as a flag of `openfabric serve`, as an environment variable, or as a
key of the YAML config file (`--config FILE`, `$OPENFABRIC_CONFIG`, or `<home>/config.yaml`).
Precedence: flag > environment > config file > default. An invalid value or an unreadable config
file stops the agent with one message naming the setting and where the value came from
(exit code 2).

This file is generated from `agent/settings.py` by `python -m agent.docs`.

"""


def render() -> str:
    return HEADER + settings_markdown() + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
