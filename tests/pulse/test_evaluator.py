"""The evaluator on synthetic members and a fake clock: every default rule raises after its
`for` and clears after its `clear_after`; values hovering at a threshold change nothing;
hostile telemetry is skipped, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from agent.core.capabilities import Capabilities
from agent.core.cluster import MemberView
from agent.pulse.evaluator import MAX_CONDITIONS, Evaluator, Tick
from agent.pulse.models import Insight
from agent.pulse.observe import observe_all
from agent.pulse.rulepack import load_rules
from agent.pulse.rules import Rule
from tests.pulse.fakes import GB, llm, member, telemetry

STEP = 10.0
RULES = {rule.id: rule for rule in load_rules()}


@dataclass
class Run:
    evaluator: Evaluator
    now: float = 1_000_000.0

    def step(self, members: list[MemberView], seconds: float = STEP) -> Tick:
        self.now += seconds
        return self.evaluator.evaluate(observe_all(members), self.now)

    def hold(self, members: list[MemberView], seconds: float) -> list[Tick]:
        """Evaluate every STEP for `seconds`."""
        return [self.step(members) for _ in range(int(seconds // STEP))]

    def card(self, key: str) -> Insight | None:
        return next((c for c in self.evaluator.cards() if c.id == key), None)


def run(*rules: Rule) -> Run:
    return Run(Evaluator(list(rules) or list(RULES.values())))


def node(
    sample: object = None, caps: Capabilities | None = None, state: str = "online"
) -> list[MemberView]:
    return [member("n1", "alpha", sample=sample, caps=caps, state=state)]


@dataclass(frozen=True)
class Case:
    good: Callable[[], list[MemberView]]
    bad: Callable[[], list[MemberView]]
    key: str
    severity: str = "warning"


CASES = {
    "disk_full": Case(
        lambda: node(telemetry(disks={"/": 50.0})),
        lambda: node(telemetry(disks={"/": 96.0})),
        "disk_full:n1:/",
        "critical",
    ),
    "memory_pressure": Case(
        lambda: node(telemetry(memory=50.0)),
        lambda: node(telemetry(memory=92.0)),
        "memory_pressure:n1",
    ),
    "cpu_saturated": Case(
        lambda: node(telemetry(cpu=20.0)),
        lambda: node(telemetry(cpu=99.0)),
        "cpu_saturated:n1",
        "critical",
    ),
    "gpu_hot": Case(
        lambda: node(telemetry(gpus=[60.0, None])),
        lambda: node(telemetry(gpus=[60.0, 85.0, None])),
        "gpu_hot:n1",
    ),
    "node_offline": Case(lambda: node(), lambda: node(state="offline"), "node_offline:n1"),
    "storage_degraded": Case(
        lambda: [
            member("n1", sample=telemetry(), caps=Capabilities(storage_degraded=0)),
            member("n2", sample=telemetry(), caps=Capabilities(storage_degraded=0)),
        ],
        lambda: [
            member("n1", sample=telemetry(), caps=Capabilities(storage_degraded=3)),
            member("n2", sample=telemetry(), caps=Capabilities(storage_degraded=3)),
        ],
        "storage_degraded:cluster",
    ),
    "breaker_open": Case(
        lambda: node(caps=Capabilities(breakers_open=0)),
        lambda: node(caps=Capabilities(breakers_open=2)),
        "breaker_open:n1",
    ),
    "llm_down": Case(
        lambda: node(caps=Capabilities(llm=llm(True))),
        lambda: node(caps=Capabilities(llm=llm(False))),
        "llm_down:n1",
    ),
    "brain_behind": Case(
        lambda: node(caps=Capabilities(brain_backlog=10)),
        lambda: node(caps=Capabilities(brain_backlog=800)),
        "brain_behind:n1",
    ),
    "storage_pool_full": Case(
        lambda: [
            member("n1", sample=telemetry(), caps=Capabilities(storage_used=50, storage_free=50)),
            member("n2", sample=telemetry(), caps=Capabilities(storage_used=130, storage_free=0)),
        ],
        lambda: [
            member("n1", sample=telemetry(), caps=Capabilities(storage_used=50, storage_free=5)),
            member("n2", sample=telemetry(), caps=Capabilities(storage_used=130, storage_free=0)),
        ],
        "storage_pool_full:cluster",
        "critical",
    ),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_each_default_rule_raises_after_for_and_clears_after_its_delay(rule_id: str) -> None:
    rule, case = RULES[rule_id], CASES[rule_id]
    state = run(rule)
    state.hold(case.good(), 60)
    began = state.now + STEP
    waited = state.hold(case.bad(), rule.for_)  # the first bad reading starts the wait
    assert all(not t.changes for t in waited)
    assert state.card(case.key) is None
    tick = state.step(case.bad())
    card = state.card(case.key)
    assert card is not None, f"{rule_id} did not raise after {rule.for_} s"
    assert [(c.from_status, c.to_status) for c in tick.changes] == [("ok", case.severity)]
    assert card.severity == case.severity
    assert card.since == began
    assert not card.dismissed
    assert card.title == rule.title
    assert card.what
    assert card.why
    assert card.action
    if rule.clear_after:
        calming = state.hold(case.good(), rule.clear_after)
        assert all(not t.changes for t in calming)
        assert state.card(case.key) is not None
    tick = state.step(case.good())
    assert state.card(case.key) is None
    assert [(c.from_status, c.to_status) for c in tick.changes] == [(case.severity, "ok")]


def test_the_disk_filling_trend_warns_before_it_is_full() -> None:
    state = run(RULES["disk_filling"])
    free = 50.0 * GB
    # Free space falls half a GB an hour: about four days left.
    for _ in range(30):
        state.step(node(telemetry(disks={"/": 50.0}, disk_free={"/": free})), 300)
        free -= GB / 24
    card = state.card("disk_filling:n1:/")
    assert card is not None
    assert card.severity == "warning"
    assert card.value is not None
    assert 3.5 < card.value < 4.5
    # A cleanup: free space rises, the trend stops saying it fills; the card goes.
    for _ in range(12 * 48):
        state.step(node(telemetry(disks={"/": 5.0}, disk_free={"/": 95.0 * GB})), 300)
        if state.card("disk_filling:n1:/") is None:
            break
    assert state.card("disk_filling:n1:/") is None


def test_no_trend_is_claimed_from_a_short_history() -> None:
    state = run(RULES["disk_filling"])
    for step in range(5):
        state.step(node(telemetry(disk_free={"/": (50 - step * 10) * GB})), 300)
    assert state.evaluator.memory.days_left("n1", "/") is None


def test_a_node_that_never_had_a_backend_up_is_no_alert() -> None:
    state = run(RULES["llm_down"])
    state.hold(node(caps=Capabilities()), 300)
    state.hold(node(caps=Capabilities(llm=llm(False))), 300)
    assert state.evaluator.cards() == []


def test_values_hovering_at_a_threshold_do_not_flap() -> None:
    state = run(RULES["disk_full"])
    hovering = [84.0, 86.0]
    for index in range(360):  # an hour around the raise value: each high reading alone
        state.step(node(telemetry(disks={"/": hovering[index % 2]})))
    assert state.evaluator.cards() == []
    state.hold(node(telemetry(disks={"/": 86.0})), 70)
    assert state.card("disk_full:n1:/") is not None
    changes = []
    for index in range(360):  # around the clear value, and around the critical raise
        value = [79.0, 81.0, 94.0, 96.0][index % 4]
        changes += state.step(node(telemetry(disks={"/": value}))).changes
    assert changes == []
    card = state.card("disk_full:n1:/")
    assert card is not None
    assert card.severity == "warning"


def test_a_brief_spike_or_dip_shows_nothing() -> None:
    state = run(RULES["memory_pressure"])
    state.hold(node(telemetry(memory=99.0)), 110)
    state.step(node(telemetry(memory=50.0)))
    state.hold(node(telemetry(memory=99.0)), 110)
    assert state.evaluator.cards() == []
    state.hold(node(telemetry(memory=99.0)), 20)
    assert state.card("memory_pressure:n1") is not None
    state.hold(node(telemetry(memory=10.0)), 110)
    state.step(node(telemetry(memory=99.0)))
    state.hold(node(telemetry(memory=10.0)), 110)
    assert state.card("memory_pressure:n1") is not None


def test_an_offline_node_is_judged_by_the_offline_rule_alone() -> None:
    state = run(RULES["disk_full"], RULES["node_offline"])
    state.hold(node(telemetry(disks={"/": 99.0})), 70)
    assert {c.id for c in state.evaluator.cards()} == {"disk_full:n1:/"}
    # Offline, its last sample is stale: the disk card calms down, the offline card comes.
    state.hold(node(telemetry(disks={"/": 99.0}), state="offline"), 320)
    assert {c.id for c in state.evaluator.cards()} == {"node_offline:n1"}
    offline = state.card("node_offline:n1")
    assert offline is not None
    assert "alpha has been offline for 1 min" in offline.what


def test_the_storage_filesystem_is_watched_once() -> None:
    state = run(RULES["disk_full"])
    listed = telemetry(disks={"/": 99.0})
    listed["storage"].update(total=100 * GB, used=99 * GB)
    unlisted = telemetry(disks={"/boot": 10.0})
    unlisted["storage"].update(total=100 * GB, used=99 * GB)
    state.hold(node(listed), 70)
    assert [c.id for c in state.evaluator.cards()] == ["disk_full:n1:/"]
    state = run(RULES["disk_full"])
    state.hold(node(unlisted), 70)
    assert [c.id for c in state.evaluator.cards()] == ["disk_full:n1:storage"]


def test_a_rule_gathers_a_finer_metric_to_its_scope() -> None:
    spread = RULES["disk_full"].model_copy(update={"id": "any_disk", "scope": "cluster"})
    state = run(spread)
    members = [
        member("n1", sample=telemetry(disks={"/": 20.0, "/data": 90.0})),
        member("n2", sample=telemetry(disks={"/": 96.0})),
    ]
    state.hold(members, 70)
    cards = state.evaluator.cards()
    assert [(c.id, c.severity, c.value) for c in cards] == [("any_disk:cluster", "critical", 96.0)]


HOSTILE_SAMPLES = {
    "not a mapping": "telemetry",
    "none": None,
    "a list": [1, 2],
    "percent as text": {"cpu": {"percent": "99"}, "memory": {"percent": "99"}},
    "percent as bool": {"cpu": {"percent": True}},
    "percent out of range": {"cpu": {"percent": 1e308}, "memory": {"percent": -5}},
    "not finite": {"cpu": {"percent": float("nan")}, "memory": {"percent": float("inf")}},
    "disks not a list": {"disks": {"/": 99}},
    "disk without a mount point": {"disks": [{"percent": 99}, {"mountpoint": 5, "percent": 99}]},
    "mount point too long": {"disks": [{"mountpoint": "/" + "a" * 5000, "percent": 99}]},
    "disk not a mapping": {"disks": ["/", 99, None]},
    "gpus wrong": {"gpus": [{"temperature_c": "hot"}, 7, {"temperature_c": 10**9}]},
    "storage wrong": {"storage": {"total": 0, "used": 5}, "cpu": None},
    "storage used beyond total": {"storage": {"total": 10, "used": 50}},
}


@pytest.mark.parametrize("name", sorted(HOSTILE_SAMPLES))
def test_hostile_telemetry_is_skipped_not_a_crash(name: str) -> None:
    state = run()
    members = [
        member("n1", "self", is_self=True, sample=telemetry(disks={"/": 96.0})),
        member("evil", sample=HOSTILE_SAMPLES[name]),
    ]
    state.hold(members, 400)
    assert {c.id for c in state.evaluator.cards()} == {"disk_full:n1:/"}


def test_a_member_claiming_thousands_of_disks_costs_a_bounded_table() -> None:
    state = run(RULES["disk_full"])
    many = {f"/mnt/{i}": 99.0 for i in range(10_000)}
    members = [member(f"n{i:03}", sample=telemetry(disks=many)) for i in range(200)]
    state.hold(members, 70)
    assert len(state.evaluator.conditions) == MAX_CONDITIONS
    assert state.evaluator.skipped > 0
    cards = state.evaluator.cards()
    assert len([c for c in cards if c.node_id == "n000"]) == 32  # its first 32 disks
    assert not [c for c in cards if c.node_id == "n199"]


def test_conditions_of_members_that_left_are_forgotten() -> None:
    state = run(RULES["disk_full"])
    state.hold(node(telemetry(disks={"/": 99.0})), 70)
    state.hold([], RULES["disk_full"].clear_after + STEP)
    assert state.evaluator.cards() == []
    assert state.evaluator.conditions == {}
