"""The restart window and its blackouts, in the window's own time zone.

Times are wall-clock times of ``window.timezone`` (zoneinfo), so a 04:00
window stays at 04:00 local across DST changes. A window whose end is not
after its start wraps midnight; its day is the day it *started*.

>>> from restart_orchestrator.config import WindowConfig
>>> import datetime as dt
>>> window = WindowConfig(start="23:30", end="00:30")
>>> window_decision(window, dt.datetime(2026, 12, 4, 0, 10, tzinfo=dt.UTC)).open
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from restart_orchestrator.config import WEEKDAYS, Blackout, WindowConfig


@dataclass(frozen=True)
class WindowDecision:
    """Whether a run may start at ``now``, and if not why and when it next may."""

    open: bool
    reason: str
    next_open: dt.datetime | None = None


def _covers(start: dt.time, end: dt.time, days: list[str], local: dt.datetime) -> bool:
    """Does the daily period [start, end) on ``days`` contain the local time ``local``?"""
    moment = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= moment < end, local.date()
    elif moment >= start:
        inside, day = True, local.date()
    else:
        inside, day = moment < end, local.date() - dt.timedelta(days=1)
    return inside and WEEKDAYS[day.weekday()] in days


def active_blackout(window: WindowConfig, now: dt.datetime) -> Blackout | None:
    """The blackout covering ``now``, if any."""
    local = now.astimezone(window.zone)
    for blackout in window.blackouts:
        if _covers(blackout.start, blackout.end, list(blackout.days), local):
            return blackout
    return None


def next_window_start(window: WindowConfig, now: dt.datetime) -> dt.datetime | None:
    """The next moment (after ``now``) a window opens, in UTC."""
    local_today = now.astimezone(window.zone).date()
    for offset in range(0, 9):
        day = local_today + dt.timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in window.days:
            continue
        # A start inside a spring-forward gap is normalised by the UTC round trip.
        start = dt.datetime.combine(day, window.start, tzinfo=window.zone).astimezone(dt.UTC)
        if start > now and active_blackout(window, start) is None:
            return start
    return None


def window_decision(window: WindowConfig, now: dt.datetime) -> WindowDecision:
    """May a run start at ``now`` (an aware datetime)?"""
    local = now.astimezone(window.zone)
    span = f"{window.start:%H:%M}-{window.end:%H:%M} {window.timezone}"
    if not _covers(window.start, window.end, list(window.days), local):
        upcoming = next_window_start(window, now)
        when = f"; next window opens {upcoming:%Y-%m-%d %H:%M} UTC" if upcoming else ""
        return WindowDecision(
            False,
            f"outside the restart window {span} (now {local:%a %H:%M} {window.timezone}){when}",
            upcoming,
        )
    blackout = active_blackout(window, now)
    if blackout is not None:
        label = f" ({blackout.reason})" if blackout.reason else ""
        return WindowDecision(
            False,
            f"in blackout {blackout.start:%H:%M}-{blackout.end:%H:%M} {window.timezone}{label}",
            next_window_start(window, now),
        )
    return WindowDecision(True, f"inside the restart window {span}")
