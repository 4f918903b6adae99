"""Which member samples count as new: heartbeats carry them both ways, so duplicates and
late older ones arrive; only a newer one replaces the held one and is published."""

from __future__ import annotations

from agent.cluster.liveness import CLOCK_STEP_S, _newer


def test_only_a_newer_sample_counts() -> None:
    held = {"ts": 100.0}
    assert _newer({"ts": 100.5}, held)
    assert not _newer({"ts": 100.0}, held)
    assert not _newer({"ts": 99.0}, held)
    assert _newer({"ts": 1.0}, None)


def test_a_clock_stepped_back_starts_afresh() -> None:
    assert _newer({"ts": 100.0 - CLOCK_STEP_S - 1}, {"ts": 100.0})


def test_samples_without_a_usable_time() -> None:
    assert _newer({"ts": "soon"}, None)
    assert not _newer({"ts": "soon"}, {"ts": "soon"})
    assert _newer({"ts": 5.0}, {"ts": "soon"})
    assert not _newer({}, {})
