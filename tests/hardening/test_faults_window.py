"""The restart window through ``restartctl run`` with a fixed clock: edges and DST.

``tests/orchestrator/test_window.py`` covers ``window_decision`` itself. Here the
whole command runs (in-process) against a live service, with the clock its window
check reads fixed at a chosen instant: at the window's edges, and on the days
clocks change in Europe/London and America/New_York, where the same UTC instant
is inside the window on one side of the change and outside on the other.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from restart_orchestrator import run as run_module
from restart_orchestrator.config import WindowConfig
from restart_orchestrator.window import WindowDecision, window_decision
from tests.hardening.conftest import TOKEN
from tests.hardening.fleets import TOKEN_ENV, MiniFleet

pytestmark = pytest.mark.slow

UTC = dt.UTC


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MiniFleet]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    mini = MiniFleet(tmp_path)
    try:
        yield mini
    finally:
        mini.kill_all()


def fix_clock(monkeypatch: pytest.MonkeyPatch, now: dt.datetime) -> None:
    """``restartctl run``'s window check reads ``now`` instead of the real clock."""

    def decide(window: WindowConfig, _real_now: dt.datetime) -> WindowDecision:
        return window_decision(window, now)

    monkeypatch.setattr(run_module, "window_decision", decide)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


LONDON = {"start": "04:00", "end": "04:30", "timezone": "Europe/London"}
NEW_YORK = {"start": "04:00", "end": "04:30", "timezone": "America/New_York"}
LONDON_GAP = {"start": "01:30", "end": "02:30", "timezone": "Europe/London"}

# (window, fixed UTC instant, the local time the refusal shows, the next opening in UTC)
REFUSED = [
    (LONDON, "2026-07-01T02:59:59", "now Wed 03:59 Europe/London", "2026-07-01 03:00 UTC"),
    (LONDON, "2026-07-01T03:30:00", "now Wed 04:30 Europe/London", "2026-07-02 03:00 UTC"),
    (LONDON, "2026-03-29T04:00:00", "now Sun 05:00 Europe/London", "2026-03-30 03:00 UTC"),
    (LONDON, "2026-10-25T03:10:00", "now Sun 03:10 Europe/London", "2026-10-25 04:00 UTC"),
    (NEW_YORK, "2026-03-08T09:00:00", "now Sun 05:00 America/New_York", "2026-03-09 08:00 UTC"),
    (NEW_YORK, "2026-11-01T08:10:00", "now Sun 03:10 America/New_York", "2026-11-01 09:00 UTC"),
    (LONDON_GAP, "2026-03-29T01:30:00", "now Sun 02:30 Europe/London", "2026-03-30 00:30 UTC"),
]  # fmt: skip
OPENED = [
    (LONDON, "2026-07-01T03:00:00"),  # the start edge: 04:00:00 BST
    (LONDON, "2026-03-29T03:29:59"),  # spring-forward day: 04:29:59 BST, an hour "early" in UTC
    (LONDON, "2026-10-25T04:00:00"),  # fall-back day: 04:00 GMT
    (NEW_YORK, "2026-03-08T08:29:59"),  # spring-forward day: 04:29:59 EDT
    (LONDON_GAP, "2026-03-29T01:00:00"),  # 02:00 BST: the 01:30 start does not exist that day
]


@pytest.mark.parametrize(
    ("window", "now", "local", "next_open"),
    REFUSED,
    ids=[f"{case[0]['timezone']}-{case[1]}" for case in REFUSED],
)
def test_run_outside_the_window_is_exit_4_and_touches_nothing(
    fleet: MiniFleet,
    monkeypatch: pytest.MonkeyPatch,
    window: dict[str, str],
    now: str,
    local: str,
    next_open: str,
) -> None:
    """1. a live service; the clock fixed just outside the window (an edge, or a DST day)
    2. restartctl run
    Result: exit 4 naming the window, the local time and the next opening in UTC;
    the service untouched (same pid, never paused), no journal written."""
    fleet.write(extra={"window": window})
    fleet.start_all()
    pid = fleet.pid("svc")
    fix_clock(monkeypatch, utc(now))

    result = fleet.invoke("run")

    span = f"{window['start']}-{window['end']} {window['timezone']}"
    assert result.exit_code == 4, result.output
    assert f"outside the restart window {span} ({local})" in result.output
    assert f"next window opens {next_open}" in result.output
    assert "use --force-window to run anyway" in result.output
    assert fleet.pid("svc") == pid
    assert fleet.get("svc", "/hook-calls").json()["calls"].get("pause", 0) == 0
    assert not fleet.journal.exists()


def test_the_day_before_spring_forward_keeps_the_old_offset(
    fleet: MiniFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. Europe/London window 04:00-04:30; the clock at 04:10 UTC on the day before the
    clocks go forward (GMT: 04:10 local), then the same UTC time the day after (BST:
    05:10 local)
    Result: the first runs (exit 0), the second is exit 4: the window follows the
    local wall clock, not a fixed UTC time."""
    fleet.write(extra={"window": LONDON})
    fleet.start_all()
    fix_clock(monkeypatch, utc("2026-03-28T04:10:00"))
    assert fleet.invoke("run").exit_code == 0
    fix_clock(monkeypatch, utc("2026-03-30T04:10:00"))
    after = fleet.invoke("run")
    assert after.exit_code == 4, after.output
    assert "(now Mon 05:10 Europe/London)" in after.output


@pytest.mark.parametrize(
    ("window", "now"), OPENED, ids=[f"{case[0]['timezone']}-{case[1]}" for case in OPENED]
)
def test_run_inside_the_window_at_its_edge_or_across_dst_restarts(
    fleet: MiniFleet, monkeypatch: pytest.MonkeyPatch, window: dict[str, str], now: str
) -> None:
    """1. a live service; the clock fixed just inside the window (its first or last
    second, on a DST change day, or inside a spring-forward gap)
    2. restartctl run
    Result: exit 0; the service restarted (new pid); the journal completed."""
    fleet.write(extra={"window": window})
    fleet.start_all()
    pid = fleet.pid("svc")
    fix_clock(monkeypatch, utc(now))

    result = fleet.invoke("run")

    assert result.exit_code == 0, result.output
    assert fleet.pid("svc") != pid
    assert json.loads(fleet.journal.read_text())["status"] == "completed"
