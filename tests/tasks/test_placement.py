"""The placement rule and the waiting reasons, as pure functions; node holds."""

from __future__ import annotations

from agent.tasks.holds import NodeHolds
from agent.tasks.placement import NO_SLOT, Candidate, ranked, waiting_reason
from agent.tasks.store import Task


def task(preferred: str | None = None, lost_on: tuple[str, ...] = ()) -> Task:
    return Task(
        task_id="t1",
        command="true",
        env={},
        cwd=None,
        timeout_s=None,
        retries=1,
        labels={},
        preferred_node=preferred,
        wait_for_node=True,
        submitted_at=0.0,
        excluded_nodes=list(lost_on),
    )


def node(node_id: str, unready: str | None = None, load: float = 0.5) -> Candidate:
    return Candidate(node_id, unready, (load, 1))


def test_a_preferred_node_is_the_only_place_until_the_task_is_lost_there() -> None:
    nodes = [node("A", load=0.1), node("B", load=0.9)]
    assert ranked(task("B"), nodes) == ["B"]
    offline = [node("A"), node("B", "is offline")]
    assert ranked(task("B"), offline) == []
    assert waiting_reason(task("B"), offline) == "waiting: preferred node B is offline"


def test_a_task_lost_on_its_preferred_node_goes_to_another() -> None:
    # B is still online (its heartbeats have not timed out yet) and the least loaded.
    nodes = [node("A", load=0.6), node("B", load=0.0), node("C", load=0.3)]
    assert ranked(task("B", lost_on=("B",)), nodes) == ["C", "A"]


def test_nodes_a_task_was_lost_on_are_the_last_resort() -> None:
    nodes = [node("A", NO_SLOT), node("B")]
    assert ranked(task("B", lost_on=("B",)), nodes) == ["B"]
    assert ranked(task(None, lost_on=("B",)), nodes) == ["B"]


def test_a_lost_task_with_no_eligible_node_says_why_it_waits() -> None:
    nodes = [node("A", NO_SLOT), node("B", "is offline")]
    lost = task("B", lost_on=("B",))
    assert ranked(lost, nodes) == []
    assert waiting_reason(lost, nodes) == (
        "waiting: preferred node B is offline; no other eligible node (A has no free task slot)"
    )
    assert waiting_reason(task(), nodes) == (
        "waiting: no eligible node (A has no free task slot, B is offline)"
    )


def test_waiting_for_a_free_slot_alone_needs_no_detail() -> None:
    full = [node("A", NO_SLOT), node("B", NO_SLOT)]
    assert waiting_reason(task(), full) is None
    assert waiting_reason(task("B"), full) is None
    # Ready, but its breaker's single probe is out.
    assert waiting_reason(task("B"), [node("B")]) == (
        "waiting: preferred node B is being probed by its circuit breaker"
    )


def test_a_hold_lasts_its_time_or_until_released() -> None:
    now = [100.0]
    holds = NodeHolds(hold_s=1.0, clock=lambda: now[0])
    holds.hold("B")
    assert holds.held("B")
    assert not holds.held("A")
    now[0] += 0.99
    assert holds.held("B")
    now[0] += 0.02
    assert not holds.held("B")
    holds.hold("B")
    holds.release("B")
    assert not holds.held("B")
