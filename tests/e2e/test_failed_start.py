from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleet_services.layout import SERVICES, SHUTDOWN_ORDER
from fleet_services.supervised import SupervisedFleet
from tests.e2e.fleet_checks import (
    audit_after_quiesce,
    last_run,
    phase_durations,
    read_report,
    wait_for,
    wait_for_trading,
)

pytestmark = pytest.mark.e2e

BROKEN = "execution"
NOT_STARTED = ["ai-engine", "portfolio-intelligence"]  # they depend on execution
UP = ["risk-safety", "monitoring-health"]


def test_a_service_that_cannot_start_fails_the_run_and_recover_brings_the_fleet_back(
    start_fleet: Callable[..., SupervisedFleet], tmp_path: Path, figures: dict[str, Any]
) -> None:
    """1. The fleet trades; then execution's deployment is broken on purpose (its
       fault file makes every new start of it refuse to start).
    2. ``restartctl run --force-window``: execution stops cleanly but does not come back:
       started, retried, its previous snapshot restored, retried again.
    Result: exit 1, outcome failed; the report says the snapshot was restored; the
    services that depend on execution were not started, the others are up and paused
    (no signal is generated); monitoring-health recorded ``restart.failed``.
    3. The fault is removed; ``restartctl recover``.
    Result: exit 0; every service up and resumed, trading goes on; nothing lost,
    nothing filled twice, positions match the orders.
    """
    fleet = start_fleet()
    wait_for_trading(fleet, signals=20)
    fault = fleet.layout.run_dir / "faults" / BROKEN
    fault.write_text("broken deployment (failure drill)")

    report_path = tmp_path / "report.json"
    started = time.monotonic()
    result = fleet.restartctl("run", "--force-window", "--report", str(report_path))
    run_s = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert "restartctl recover" in result.stderr, result.stderr

    report = read_report(report_path)
    assert report["outcome"] == "failed"
    start = report["services"][BROKEN]["start"]
    assert [a["how"] for a in start["attempts"]] == ["start", "retry", "retry after rollback"]
    assert not any(a["ok"] for a in start["attempts"])
    assert start["rolled_back"] is True
    assert f"{BROKEN}: previous state snapshot restored" in report["notes"]
    assert f"left paused: {', '.join(UP)}" in report["notes"]
    for name in NOT_STARTED:
        assert report["services"][name]["start"] is None, name

    # Not retried behind restartctl's back: supervisord leaves the broken program down.
    wait_for(
        lambda: fleet.process_states()[BROKEN][0] in ("EXITED", "FATAL", "STOPPED"),
        timeout=20,
        what=f"{BROKEN} settles as not running",
    )
    pid = fleet.process_states()[BROKEN][1]
    time.sleep(3)
    assert fleet.process_states()[BROKEN][1] == pid == 0, "supervisord restarted it again"
    states = {name: state for name, (state, _) in fleet.process_states().items()}
    assert {name: states[name] for name in NOT_STARTED} == dict.fromkeys(NOT_STARTED, "STOPPED")
    assert {name: states[name] for name in UP} == dict.fromkeys(UP, "RUNNING")
    for name in UP:
        assert fleet.get(name, "/health")["paused"], f"{name} is not paused"
    failed = last_run(fleet)
    assert failed["outcome"] == "failed"
    assert BROKEN in failed["reason"], failed
    assert failed["stopped"] == SHUTDOWN_ORDER, failed
    assert failed["started"] == UP, failed

    fault.unlink()
    recover_report = tmp_path / "recover.json"
    started = time.monotonic()
    recovered = fleet.restartctl("recover", "--report", str(recover_report))
    recover_s = time.monotonic() - started
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert read_report(recover_report)["outcome"] == "recovered"
    assert {state for state, _ in fleet.process_states().values()} == {"RUNNING"}
    for name in SERVICES:
        assert not fleet.get(name, "/health")["paused"], f"{name} is still paused"
    restore = fleet.admin(BROKEN, "GET", "/admin/status")["last_restore"]
    assert restore["ok"], restore
    assert restore["found"], restore
    wait_for_trading(fleet, signals=20)
    assert last_run(fleet)["outcome"] == "recovered"

    audit = audit_after_quiesce(fleet)
    figures.update(
        run_s=round(run_s, 1),
        exit_code=result.returncode,
        phases=phase_durations(report),
        start_attempts=len(start["attempts"]),
        recover_s=round(recover_s, 1),
        signals_generated=audit.generated,
        signals_executed=audit.executed,
        lost=len(audit.lost),
        duplicate_fills=len(audit.duplicates),
    )
