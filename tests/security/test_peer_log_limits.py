"""Finding 3, the log side: a repeated line is rate-limited, on every handler alike, and what
was dropped is reported."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from agent.log_limits import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handlers(clock: Clock) -> Iterator[tuple[Collect, Collect]]:
    repeats = RepeatFilter(limit=5, interval=60, overall=50, clock=clock)
    console, file = Collect(), Collect()
    for handler in (console, file):
        handler.addFilter(repeats)
    logger = logging.getLogger("openfabric.test.flood")
    logger.addHandler(console)
    logger.addHandler(file)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield console, file
    logger.removeHandler(console)
    logger.removeHandler(file)


def test_a_flood_of_one_message_is_cut_to_the_limit(
    clock: Clock, handlers: tuple[Collect, Collect]
) -> None:
    log = logging.getLogger("openfabric.test.flood")
    for i in range(10_000):
        log.warning("peer connection from %s closed", f"10.0.0.{i % 250}")
    console, file = handlers
    assert len(console.lines) == 5
    assert console.lines == file.lines
    log.info("something else")
    assert console.lines[-1] == "something else"
    clock.now = 61
    log.warning("peer connection from %s closed", "10.0.0.1")
    assert "suppressed 9995 similar messages" in console.lines[-2]
    assert console.lines[-1] == "peer connection from 10.0.0.1 closed"
    assert console.lines == file.lines


def test_messages_that_differ_every_time_still_have_a_budget(
    clock: Clock, handlers: tuple[Collect, Collect]
) -> None:
    log = logging.getLogger("openfabric.test.flood")
    for i in range(1000):
        # Formatted before logging: the case that a per-template limit cannot catch.
        log.warning(f"unique line {i}")
    console, _ = handlers
    assert len(console.lines) == 50
    clock.now = 61
    log.warning("after")
    assert "suppressed 950 messages (log rate limit)" in console.lines[-2]
