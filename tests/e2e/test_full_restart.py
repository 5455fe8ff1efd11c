from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleet_services.layout import SHUTDOWN_ORDER, STARTUP_ORDER
from fleet_services.supervised import SupervisedFleet
from tests.e2e.fleet_checks import (
    audit_after_quiesce,
    last_run,
    phase_durations,
    phase_window,
    read_report,
    wait_for_trading,
)

pytestmark = pytest.mark.e2e


def test_full_restart_while_trading_loses_nothing(
    start_fleet: Callable[..., SupervisedFleet], tmp_path: Path, figures: dict[str, Any]
) -> None:
    """1. The fleet trades (ai-engine signals -> execution orders) under supervisord.
    2. The ESS limits are changed, so that their survival is visible.
    3. ``restartctl run --force-window`` restarts the whole fleet while it trades.
    4. Trading resumes; then signal generation is paused and execution settles.
    Result: exit 0; every signal executed exactly once; every order of a signal
    generated before the restart was filled before the first service stopped;
    positions match the orders (restored across the restart); the ESS state is
    unchanged; monitoring-health saw the stops and starts in the plan's order.
    """
    fleet = start_fleet()
    wait_for_trading(fleet, signals=30)
    limits = {"max_order_qty": 7, "max_position": 50_000}
    with fleet.client("risk-safety") as risk:
        ess_before = risk.put("/ess/limits", json=limits).raise_for_status().json()
    positions_before = fleet.get("execution", "/positions")["positions"]
    assert positions_before, "no position built before the restart"

    report_path = tmp_path / "report.json"
    started = time.monotonic()
    result = fleet.restartctl(
        "run",
        "--force-window",
        "--output",
        "json",
        "--report",
        str(report_path),
        "--timeline",
        str(tmp_path / "timeline.svg"),
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    report = read_report(report_path)
    assert report["outcome"] == "completed"
    assert (tmp_path / "timeline.svg").read_text().startswith("<")

    wait_for_trading(fleet, signals=20)
    audit = audit_after_quiesce(fleet)

    stopping_began, _ = phase_window(report, 2)
    phase_1 = phase_window(report, 1)
    before_stop = [
        order
        for order in audit.orders.values()
        if order["source"] == "signal" and order["signal_ts"] < stopping_began
    ]
    assert before_stop, "no signal before the restart"
    late = [o["order_id"] for o in before_stop if (o["filled_at"] or 0) >= stopping_began]
    assert late == [], f"orders of signals from before the restart filled after it: {late}"
    during_phase_1 = sum(
        1 for o in audit.orders.values() if phase_1[0] <= (o["filled_at"] or 0) <= phase_1[1]
    )
    resumed_at = phase_window(report, 5)[1]
    after = [o for o in audit.orders.values() if o.get("signal_ts", 0) > resumed_at]
    assert after, "no signal executed after the restart"

    assert fleet.get("risk-safety", "/ess") == ess_before
    for service in STARTUP_ORDER:
        restore = fleet.admin(service, "GET", "/admin/status")["last_restore"]
        assert restore["ok"], (service, restore)
        assert restore["found"], (service, restore)
    assert sum(len(lost) for lost in report["orders_lost"].values()) == 0

    run = last_run(fleet)
    assert run["outcome"] == "completed"
    assert run["stopped"] == SHUTDOWN_ORDER
    assert run["started"] == STARTUP_ORDER

    figures.update(
        restart_s=round(took, 1),
        phases=phase_durations(report),
        signals_generated=audit.generated,
        signals_executed=audit.executed,
        executed_during_phase_1=during_phase_1,
        executed_after_restart=len(after),
        lost=len(audit.lost),
        duplicate_fills=len(audit.duplicates),
    )
