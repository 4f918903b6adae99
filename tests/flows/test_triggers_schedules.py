"""Schedules and globs on their own: cron in a time zone across DST, epoch-aligned intervals,
five-field validation, and `**` globs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.flows.triggers import validate_cron
from agent.flows.triggers.cron import CronSchedule, iso_utc
from agent.flows.triggers.globs import compile_glob, fixed_root, matches
from agent.flows.triggers.interval import IntervalSchedule


def ts(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


def following(schedule: CronSchedule | IntervalSchedule, start: float, count: int) -> list[str]:
    times, at = [], start
    for _ in range(count):
        nxt = schedule.next_after(at)
        assert nxt is not None
        assert nxt > at
        times.append(iso_utc(nxt))
        at = nxt
    return times


def test_a_daily_paris_time_in_the_spring_gap_runs_after_it_and_keeps_local_time() -> None:
    paris = CronSchedule("30 2 * * *", "Europe/Paris")
    assert following(paris, ts("2026-03-27T12:00:00+01:00"), 4) == [
        "2026-03-28T01:30:00Z",  # 02:30 CET
        "2026-03-29T01:00:00Z",  # 02:30 does not exist: 03:00 CEST
        "2026-03-30T00:30:00Z",  # 02:30 CEST
        "2026-03-31T00:30:00Z",
    ]


def test_the_repeated_autumn_hour_runs_a_fixed_time_once_and_hourly_jobs_twice() -> None:
    daily = CronSchedule("30 2 * * *", "Europe/Paris")
    assert following(daily, ts("2026-10-24T12:00:00+02:00"), 3) == [
        "2026-10-25T00:30:00Z",  # 02:30 CEST, the first of the two
        "2026-10-26T01:30:00Z",  # 02:30 CET
        "2026-10-27T01:30:00Z",
    ]
    hourly = CronSchedule("0 * * * *", "Europe/Paris")
    assert following(hourly, ts("2026-10-25T01:30:00+02:00"), 3) == [
        "2026-10-25T00:00:00Z",  # 02:00 CEST
        "2026-10-25T01:00:00Z",  # 02:00 CET
        "2026-10-25T02:00:00Z",  # 03:00 CET
    ]


def test_next_is_strictly_after_and_latest_is_at_or_before() -> None:
    every_15 = CronSchedule("*/15 * * * *", "UTC")
    at = ts("2026-01-01T10:15:00+00:00")
    assert every_15.next_after(at) == at + 900
    assert every_15.next_after(at - 0.5) == at
    assert every_15.latest_until(at) == at
    assert every_15.latest_until(at - 0.001) == at - 900
    paris = CronSchedule("30 2 * * *", "Europe/Paris")
    assert paris.latest_until(ts("2026-10-25T12:00:00+01:00")) == ts("2026-10-25T02:30:00+02:00")
    assert paris.payload(at, catch_up=True) == {
        "scheduled_at": "2026-01-01T10:15:00Z",
        "catch_up": True,
    }


@pytest.mark.parametrize(
    ("expr", "tz", "problem"),
    [
        ("* * * * *", "UTC", None),
        ("0 2 * * MON-FRI", "Europe/Paris", None),
        ("0 0 1 * * *", "UTC", "five fields"),
        ("* * * *", "UTC", "five fields"),
        ("61 * * * *", "UTC", "invalid cron expression"),
        ("0 0 30 2 *", "UTC", "invalid cron expression"),
        ("* * * * *", "Mars/Olympus", "unknown time zone"),
        ("* * * * *", "../etc/passwd", "unknown time zone"),
    ],
)
def test_cron_validation_names_the_problem(expr: str, tz: str, problem: str | None) -> None:
    found = validate_cron(expr, tz)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        with pytest.raises(ValueError, match=problem):
            CronSchedule(expr, tz)


def test_interval_slots_are_aligned_to_the_epoch() -> None:
    ten_minutes = IntervalSchedule(600)
    assert ten_minutes.next_after(1000.0) == 1200.0
    assert ten_minutes.next_after(1200.0) == 1800.0
    assert ten_minutes.latest_until(1799.9) == 1200.0
    assert ten_minutes.slot(1200.0) == "2"
    assert ten_minutes.payload(1800.0, catch_up=False) == {"slot": 3}
    odd = IntervalSchedule(0.1 * 3 * 10)  # 3.0000000000000004: still slot n at n * interval
    assert all(odd.slot(n * odd.interval) == str(n) for n in range(1, 10_000, 97))
    with pytest.raises(ValueError, match="at least 1 second"):
        IntervalSchedule(0.5)


@pytest.mark.parametrize(
    ("glob", "path", "hit"),
    [
        ("docs/**/*.md", "docs/a.md", True),
        ("docs/**/*.md", "docs/x/y/a.md", True),
        ("docs/**/*.md", "docs/a.txt", False),
        ("docs/**/*.md", "old/docs/a.md", False),
        ("docs/*.md", "docs/x/a.md", False),
        ("docs/**", "docs/x/a.md", True),
        ("**/*.pdf", "a.pdf", True),
        ("report-?.csv", "report-1.csv", True),
        ("report-[!0-9].csv", "report-1.csv", False),
        ("a[.]b", "a.b", True),
        ("a.b", "axb", False),
    ],
)
def test_globs_match_like_fnmatch_with_double_star(glob: str, path: str, hit: bool) -> None:
    assert matches(compile_glob(glob), path) is hit


def test_a_globs_fixed_root_is_the_folder_before_its_first_wildcard() -> None:
    assert fixed_root("/home/me/inbox/*.pdf") == "/home/me/inbox"
    assert fixed_root("/home/me/**/*.pdf") == "/home/me"
    assert fixed_root("/home/me/notes.txt") == "/home/me"
    assert fixed_root("/*/x") == "/"
