"""The restart window: days, blackouts, midnight wrap and DST in a non-UTC zone."""

from __future__ import annotations

import datetime as dt

from restart_orchestrator.config import WindowConfig
from restart_orchestrator.window import next_window_start, window_decision

UTC = dt.UTC


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_inside_and_outside_a_plain_window() -> None:
    window = WindowConfig(start="04:00", end="04:30")
    assert window_decision(window, at(2026, 12, 4, 4, 10)).open
    assert not window_decision(window, at(2026, 12, 4, 4, 30)).open
    closed = window_decision(window, at(2026, 12, 4, 3, 59))
    assert "outside the restart window 04:00-04:30 UTC" in closed.reason
    assert closed.next_open == at(2026, 12, 4, 4, 0)


def test_window_wrapping_midnight_belongs_to_the_day_it_started() -> None:
    window = WindowConfig(start="23:30", end="00:30", days=["fri"])
    assert window_decision(window, at(2026, 12, 4, 23, 45)).open  # Friday
    assert window_decision(window, at(2026, 12, 5, 0, 15)).open  # Saturday, Friday's window
    assert not window_decision(window, at(2026, 12, 6, 0, 15)).open  # Sunday: Saturday's
    assert not window_decision(window, at(2026, 12, 5, 23, 45)).open


def test_blackout_closes_the_window_with_its_reason() -> None:
    window = WindowConfig(
        start="01:00",
        end="05:00",
        blackouts=[{"start": "02:00", "end": "04:00", "reason": "exchange maintenance"}],
    )
    assert window_decision(window, at(2026, 12, 4, 1, 30)).open
    decision = window_decision(window, at(2026, 12, 4, 3, 0))
    assert not decision.open
    assert decision.reason == "in blackout 02:00-04:00 UTC (exchange maintenance)"
    assert window_decision(window, at(2026, 12, 4, 4, 0)).open


def test_blackout_wrapping_midnight() -> None:
    window = WindowConfig(
        start="00:00", end="00:00", blackouts=[{"start": "23:00", "end": "01:00"}]
    )
    assert not window_decision(window, at(2026, 12, 4, 23, 30)).open
    assert not window_decision(window, at(2026, 12, 5, 0, 30)).open
    assert window_decision(window, at(2026, 12, 5, 1, 0)).open


def test_window_follows_local_wall_clock_across_dst() -> None:
    window = WindowConfig(start="04:00", end="04:30", timezone="Europe/London")
    # Summer (BST, UTC+1): 04:10 local is 03:10 UTC.
    assert window_decision(window, at(2026, 7, 1, 3, 10)).open
    assert not window_decision(window, at(2026, 7, 1, 4, 10)).open
    # Winter (GMT): 04:10 local is 04:10 UTC.
    assert window_decision(window, at(2026, 12, 1, 4, 10)).open
    assert not window_decision(window, at(2026, 12, 1, 3, 10)).open


def test_next_start_on_the_dst_change_day() -> None:
    window = WindowConfig(start="04:00", end="04:30", timezone="Europe/London")
    # Clocks go forward on 2026-03-29 at 01:00 UTC: that day's 04:00 BST is 03:00 UTC.
    assert next_window_start(window, at(2026, 3, 29, 0, 0)) == at(2026, 3, 29, 3, 0)
    assert next_window_start(window, at(2026, 3, 28, 12, 0)) == at(2026, 3, 29, 3, 0)
    # Clocks go back on 2026-10-25 at 01:00 UTC: that day's 04:00 GMT is 04:00 UTC.
    assert next_window_start(window, at(2026, 10, 25, 0, 0)) == at(2026, 10, 25, 4, 0)


def test_window_inside_the_spring_forward_gap() -> None:
    # 01:00-02:00 local does not exist on 2026-03-29 in London; 01:30-02:30 still opens.
    window = WindowConfig(start="01:30", end="02:30", timezone="Europe/London")
    assert window_decision(window, at(2026, 3, 29, 1, 15)).open  # 02:15 BST
    assert not window_decision(window, at(2026, 3, 29, 1, 45)).open  # 02:45 BST


def test_days_restrict_the_window() -> None:
    window = WindowConfig(start="04:00", end="04:30", days=["mon", "tue", "wed", "thu", "fri"])
    assert not window_decision(window, at(2026, 12, 5, 4, 10)).open  # Saturday
    assert window_decision(window, at(2026, 12, 7, 4, 10)).open  # Monday
    assert next_window_start(window, at(2026, 12, 5, 4, 10)) == at(2026, 12, 7, 4, 0)
