from __future__ import annotations

import time

import pytest

from agent.tasks.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerBoard,
    BreakerPolicy,
    CircuitBreaker,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Change = tuple[str, str, str]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[Change]:
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list[Change]) -> CircuitBreaker:
    return CircuitBreaker("n1", clock=clock, on_change=lambda *c: changes.append(c))


def trip(b: CircuitBreaker, n: int = 5) -> None:
    for _ in range(n):
        b.record_failure()


def test_opens_after_exactly_threshold_failures(breaker: CircuitBreaker) -> None:
    trip(breaker, 4)
    assert breaker.state == CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_success_resets_consecutive_count(breaker: CircuitBreaker) -> None:
    for _ in range(3):
        trip(breaker, 4)
        breaker.record_success()
    assert breaker.state == CLOSED
    assert breaker.snapshot()["consecutive_failures"] == 0


def test_open_refuses_until_period_then_exactly_one_probe(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    trip(breaker)
    clock.advance(29.999)
    assert breaker.state == OPEN
    assert not breaker.allow()
    clock.advance(0.001)
    assert breaker.state == HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()


def test_probe_success_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED
    assert breaker.allow()
    assert breaker.allow()


def test_probe_failure_doubles_period_capped_then_resets(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    trip(breaker)
    periods = []
    for _ in range(7):
        period = breaker.snapshot()["open_for_s"]
        periods.append(period)
        clock.advance(period - 0.01)
        assert breaker.state == OPEN
        clock.advance(0.01)
        assert breaker.allow()
        breaker.record_failure()
    assert periods == [30, 60, 120, 240, 300, 300, 300]
    clock.advance(300)
    assert breaker.allow()
    breaker.record_success()
    trip(breaker)
    assert breaker.snapshot()["open_for_s"] == 30
    assert breaker.snapshot()["opened_count"] == 9


def test_release_probe_lets_another_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    assert not breaker.allow()
    breaker.release_probe()
    assert breaker.state == HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()


def test_on_change_sequence(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[Change]
) -> None:
    trip(breaker)
    clock.advance(30)
    assert breaker.allow()
    breaker.record_failure()
    clock.advance(60)
    assert breaker.state == HALF_OPEN
    breaker.record_success()
    breaker.record_success()
    assert changes == [
        ("n1", CLOSED, OPEN),
        ("n1", OPEN, HALF_OPEN),
        ("n1", HALF_OPEN, OPEN),
        ("n1", OPEN, HALF_OPEN),
        ("n1", HALF_OPEN, CLOSED),
    ]


def test_on_change_errors_do_not_break_the_breaker(clock: FakeClock) -> None:
    def boom(*_: str) -> None:
        raise RuntimeError("boom")

    b = CircuitBreaker("n1", clock=clock, on_change=boom)
    trip(b)
    assert b.state == OPEN


def test_snapshot_fields(breaker: CircuitBreaker, clock: FakeClock) -> None:
    snap = breaker.snapshot()
    assert snap["state"] == CLOSED
    assert snap["next_retry_at"] is None
    assert snap["last_failure_at"] is None
    trip(breaker)
    clock.advance(10)
    snap = breaker.snapshot()
    assert snap["node_id"] == "n1"
    assert snap["state"] == OPEN
    assert snap["consecutive_failures"] == 5
    assert snap["opened_count"] == 1
    assert snap["open_for_s"] == 30
    assert snap["retry_in_s"] == pytest.approx(20)
    assert snap["next_retry_at"] == pytest.approx(time.time() + 20, abs=1)
    assert snap["last_failure_at"] == pytest.approx(time.time() - 10, abs=1)
    assert snap["probe_in_flight"] is False
    clock.advance(20)
    breaker.allow()
    snap = breaker.snapshot()
    assert snap["state"] == HALF_OPEN
    assert snap["next_retry_at"] is None
    assert snap["probe_in_flight"] is True


def test_custom_policy_and_validation(clock: FakeClock) -> None:
    b = CircuitBreaker("n", BreakerPolicy(failure_threshold=1, open_for_s=1), clock)
    b.record_failure()
    assert b.state == OPEN
    with pytest.raises(ValueError, match="failure_threshold"):
        BreakerPolicy(failure_threshold=0)
    with pytest.raises(ValueError, match="open_for_s"):
        BreakerPolicy(open_for_s=10, max_open_for_s=5)


def test_board_creates_shares_and_forgets(clock: FakeClock) -> None:
    changes: list[Change] = []
    board = BreakerBoard(clock=clock, on_change=lambda *c: changes.append(c))
    a = board.get("a")
    assert board.get("a") is a
    trip(board.get("b"))
    assert [s["node_id"] for s in board.snapshot()] == ["a", "b"]
    assert [s["state"] for s in board.snapshot()] == [CLOSED, OPEN]
    assert changes == [("b", CLOSED, OPEN)]
    board.forget("b")
    board.forget("missing")
    assert [s["node_id"] for s in board.snapshot()] == ["a"]
    assert board.get("b").state == CLOSED


def test_board_counts_the_breakers_not_closed(clock: FakeClock) -> None:
    board = BreakerBoard(clock=clock)
    board.get("a")
    trip(board.get("b"))
    trip(board.get("c"))
    assert board.open_count() == 2
    clock.advance(3600)  # past the open period: half open, waiting on a probe
    assert board.get("b").state == HALF_OPEN
    assert board.open_count() == 2
    assert board.get("b").allow()
    board.get("b").record_success()
    assert board.open_count() == 1
