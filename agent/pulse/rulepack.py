"""The rule pack: the default rules shipped with the agent (`rules.yaml`), with the
`pulse_rules` file merged over them by rule id.

An override names a rule by `id` and gives only what changes (`enabled: false` turns it off;
`warning: {raise: 90}` keeps the default `clear`); a new id must be a whole rule. Anything
wrong makes `RulesError`, which names the file, the line where it can and the problem: the
agent refuses to start with it rather than watch with rules nobody meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.pulse.rules import Rule

MAX_FILE_BYTES = 1024 * 1024
MAX_RULES = 200


class RulesError(Exception):
    """A rules file is unreadable or invalid."""


def default_text() -> str:
    return resources.files("agent.pulse").joinpath("rules.yaml").read_text(encoding="utf-8")


def load_rules(override: str = "") -> list[Rule]:
    """The default pack merged with the override file (a path; empty: none), enabled or
    not, in pack order (new rules last)."""
    merged: dict[str, dict[str, Any]] = {}
    places: dict[str, Place] = {}
    for entry, place in _parse(default_text(), "the default rule pack"):
        merged[entry["id"]], places[entry["id"]] = entry, place
    if override:
        path = Path(override).expanduser()
        for entry, place in _parse(_read(path), str(path)):
            rule_id = entry["id"]
            merged[rule_id] = _merge(merged.get(rule_id, {}), entry)
            places[rule_id] = place
    rules: list[Rule] = []
    for rule_id, entry in merged.items():
        try:
            rules.append(Rule.model_validate(entry))
        except ValidationError as exc:
            raise RulesError(_explain(places[rule_id], rule_id, exc)) from None
    return rules


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RulesError(f"pulse rules file {path}: larger than {MAX_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"pulse rules file {path}: cannot be read: {exc}") from None


@dataclass(frozen=True)
class Place:
    """Where a rule was written: the file, its first line and the line of each key."""

    name: str
    line: int
    keys: dict[str, int]

    def line_of(self, key: object) -> int:
        return self.keys.get(str(key), self.line)


def _parse(text: str, name: str) -> list[tuple[dict[str, Any], Place]]:
    """Each rule entry with where it was written."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"pulse rules file {name}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(data["rules"], list):
        raise RulesError(
            f"pulse rules file {name}: expected a mapping with one key, `rules`, a list"
        )
    if len(data["rules"]) > MAX_RULES:
        raise RulesError(f"pulse rules file {name}: more than {MAX_RULES} rules")
    assert isinstance(node, yaml.MappingNode)
    items = node.value[0][1].value
    entries: list[tuple[dict[str, Any], Place]] = []
    seen: set[str] = set()
    for entry, item in zip(data["rules"], items, strict=True):
        line = item.start_mark.line + 1
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise RulesError(f"pulse rules file {name}, line {line}: a rule needs a text `id`")
        if entry["id"] in seen:
            raise RulesError(f"pulse rules file {name}, line {line}: rule {entry['id']} twice")
        seen.add(entry["id"])
        keys = {str(k.value): k.start_mark.line + 1 for k, _ in item.value}
        entries.append((entry, Place(name, line, keys)))
    return entries


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _explain(place: Place, rule_id: str, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0] if errors else None
    line = place.line
    if first is not None:
        # A check of the whole rule names its field first (`metric: unknown metric ...`).
        key = first["loc"][0] if first["loc"] else first["msg"].removeprefix("Value error, ")
        line = place.line_of(str(key).split(":", 1)[0])
    problems = []
    for error in errors:
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    head = f"pulse rules file {place.name}, line {line} (rule {rule_id}): "
    return head + "; ".join(problems)
