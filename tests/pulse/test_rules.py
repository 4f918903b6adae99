"""The rule pack: the defaults load, an override file merges by id, and a bad file is refused
with its name, line and problem, at subsystem start."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.pulse.metrics import METRIC_SCOPES
from agent.pulse.rulepack import MAX_FILE_BYTES, RulesError, load_rules
from agent.pulse.subsystem import create
from tests.pulse.fakes import FakeClock, pulse_context

DEFAULT_IDS = {
    "disk_full",
    "disk_filling",
    "memory_pressure",
    "cpu_saturated",
    "gpu_hot",
    "node_offline",
    "storage_degraded",
    "breaker_open",
    "llm_down",
    "brain_behind",
    "storage_pool_full",
}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return str(path)


def by_id(override: str = "") -> dict[str, object]:
    return {rule.id: rule for rule in load_rules(override)}


def test_the_default_pack_loads_every_rule_enabled() -> None:
    rules = load_rules()
    assert {r.id for r in rules} == DEFAULT_IDS
    assert all(r.enabled and r.metric in METRIC_SCOPES for r in rules)
    cpu = next(r for r in rules if r.id == "cpu_saturated")
    assert cpu.warning is not None
    assert cpu.warning.raise_ == 90
    assert cpu.for_ == 300


def test_an_override_changes_only_what_it_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
rules:
  - id: disk_full
    warning: {raise: 88}
    for: 5
  - id: gpu_hot
    enabled: false
  - id: swap_cpu
    title: Busy CPU (strict)
    metric: cpu_percent
    scope: cluster
    direction: above
    warning: {raise: 50, clear: 40}
    what: "CPU at {value:.0f}%"
    why: "because"
    action: "act"
""",
    )
    rules = load_rules(path)
    found = {r.id: r for r in rules}
    disk = found["disk_full"]
    assert disk.warning is not None
    assert disk.critical is not None
    assert (disk.warning.raise_, disk.warning.clear, disk.for_) == (88, 80, 5)
    assert disk.critical.raise_ == 95
    assert disk.clear_after == 300
    assert not found["gpu_hot"].enabled
    assert found["swap_cpu"].scope == "cluster"
    assert [r.id for r in rules][-1] == "swap_cpu"


BAD_FILES = {
    "not yaml": ("rules: [\n  - id: x\n   bad", "line 2", "not valid YAML"),
    "not a mapping": ("- 1\n- 2\n", "rules.yaml", "one key, `rules`"),
    "unknown top key": ("rules: []\nmore: 1\n", "rules.yaml", "one key, `rules`"),
    "no id": ("rules:\n  - title: x\n", "line 2", "text `id`"),
    "same id twice": ("rules:\n  - id: gpu_hot\n  - id: gpu_hot\n", "line 3", "twice"),
    "unknown field": (
        "rules:\n  - id: gpu_hot\n    colour: red\n",
        "line 3 (rule gpu_hot)",
        "colour: Extra inputs are not permitted",
    ),
    "threshold not a number": (
        "rules:\n  - id: gpu_hot\n    for: 1\n    warning: {raise: hot}\n",
        "line 4 (rule gpu_hot)",
        "warning.raise",
    ),
    "clear above raise": (
        "rules:\n  - id: disk_full\n    warning: {clear: 90}\n",
        "rule disk_full",
        "warning: clear must be at or below raise",
    ),
    "critical below warning": (
        "rules:\n  - id: disk_full\n    critical: {raise: 50, clear: 40}\n",
        "rule disk_full",
        "critical: raise must be beyond the warning's raise",
    ),
    "unknown metric": ("rules:\n  - id: gpu_hot\n    metric: moon\n", "line 3", "unknown metric"),
    "scope finer than the metric": (
        "rules:\n  - id: memory_pressure\n    scope: subject\n",
        "rule memory_pressure",
        "per node: scope cannot be subject",
    ),
    "attribute access": (
        "rules:\n  - id: gpu_hot\n    what: '{node.__class__}'\n",
        "line 3",
        "{node.__class__} is not a value it may use",
    ),
    "index access": (
        "rules:\n  - id: gpu_hot\n    why: '{node[0]}'\n",
        "line 3",
        "{node[0]} is not a value it may use",
    ),
    "positional field": (
        "rules:\n  - id: gpu_hot\n    action: 'do {}'\n",
        "line 3",
        "{} is not a value it may use",
    ),
    "nested field": (
        "rules:\n  - id: gpu_hot\n    what: '{value:{node}}'\n",
        "line 3",
        "nested fields",
    ),
    "spec that cannot format": (
        "rules:\n  - id: gpu_hot\n    what: '{node:.2f}'\n",
        "line 3",
        "what: Unknown format code",
    ),
    "unbalanced braces": ("rules:\n  - id: gpu_hot\n    what: 'a {b'\n", "line 3", "what:"),
    "negative duration": (
        "rules:\n  - id: gpu_hot\n    for: -1\n",
        "line 3",
        "for: Input should be greater than or equal to 0",
    ),
    "new rule incomplete": (
        "rules:\n  - id: brand_new\n    title: x\n",
        "line 2",
        "Field required",
    ),
    "bad id": ("rules:\n  - id: 'Bad Id'\n", "line 2", "String should match pattern"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_rules_file_is_refused_with_where_and_why(tmp_path: Path, name: str) -> None:
    text, where, problem = BAD_FILES[name]
    path = write(tmp_path, text)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"pulse rules file {path}"), message
    assert where in message, message
    assert problem in message, message


def test_a_missing_or_huge_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(str(tmp_path / "nowhere.yaml"))
    huge = write(tmp_path, "rules: []\n" + "#" * MAX_FILE_BYTES)
    with pytest.raises(RulesError, match="larger than"):
        load_rules(huge)


async def test_the_subsystem_refuses_to_start_with_a_bad_file(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - id: gpu_hot\n    warning: {raise: '90'}\n")
    async with pulse_context(tmp_path / "home", FakeClock(), pulse_rules=path) as ctx:
        with pytest.raises(RulesError, match=r"line 3 \(rule gpu_hot\): warning.raise"):
            await create(ctx).start()
