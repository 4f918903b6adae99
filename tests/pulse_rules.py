"""Pulse rule files for tests of live agents: every default rule off (what the machine
running the tests looks like must not add cards) but the ones a test asks for."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

ALWAYS_RULE = "test_memory_in_use"
# A rule every machine trips at once (some memory is always in use), critical at once.
ALWAYS: dict[str, Any] = {
    "id": ALWAYS_RULE,
    "title": "Memory in use",
    "metric": "memory_percent",
    "scope": "node",
    "direction": "above",
    "warning": {"raise": 0.01, "clear": 0},
    "critical": {"raise": 0.02, "clear": 0.01},
    "for": 0,
    "clear_after": 0,
    "what": "{node} has {value:.0f}% of its memory in use.",
    "why": "Some memory is always in use: this card shows Pulse at work.",
    "action": "Nothing to do on {node}: dismiss the card.",
}


def rules_file(folder: Path, *rules: dict[str, Any]) -> Path:
    """A `pulse_rules` file in `folder` that turns every default rule off but `rules` (whole
    rules, or overrides of default ones by id): what the machine running the tests looks
    like (a full disk, a hot GPU) must not add cards. Shared by the CLI and dashboard tests."""
    pack = resources.files("agent.pulse").joinpath("rules.yaml").read_text(encoding="utf-8")
    given = {rule["id"] for rule in rules}
    off = [{"id": r["id"], "enabled": False} for r in yaml.safe_load(pack)["rules"]]
    entries = [rule for rule in off if rule["id"] not in given] + list(rules)
    path = folder / "pulse-rules.yaml"
    path.write_text(yaml.safe_dump({"rules": entries}, sort_keys=False), encoding="utf-8")
    return path


def always_rules(folder: Path) -> Path:
    return rules_file(folder, ALWAYS)
