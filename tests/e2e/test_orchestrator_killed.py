from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleet_services.layout import SERVICES
from fleet_services.supervised import SupervisedFleet
from tests.e2e.fleet_checks import (
    audit_after_quiesce,
    last_run,
    read_report,
    wait_for,
    wait_for_trading,
)

pytestmark = pytest.mark.e2e


def journal(fleet: SupervisedFleet) -> dict[str, Any]:
    path = fleet.layout.run_dir / "restartctl" / "trading.journal.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data


def test_recover_after_the_orchestrator_is_killed_mid_run_loses_nothing(
    start_fleet: Callable[..., SupervisedFleet], tmp_path: Path, figures: dict[str, Any]
) -> None:
    """1. The fleet trades; ``restartctl run`` starts in the background.
    2. Once phase 2 has stopped a service (journal and supervisord agree), the
       orchestrator is killed with SIGKILL: no cleanup, its file lock left behind
       with its owner record, its journal open.
    3. A new ``restartctl run`` refuses (exit 4) and says to recover first.
    4. ``restartctl recover``.
    Result: exit 0; the stale lock is reported and taken over; every service stopped
    by the killed run is started again, every paused one resumed; trading goes on;
    monitoring-health records the run as recovered; nothing lost, nothing filled
    twice, positions match the orders.
    """
    fleet = start_fleet()
    wait_for_trading(fleet, signals=20)
    log = tmp_path / "run.log"
    run = fleet.restartctl_background("run", "--force-window", "--output", "json", log=log)
    try:

        def first_stopped() -> str | None:
            stopped = journal(fleet).get("stopped") or []
            if stopped and fleet.process_states()[stopped[0]][0] == "STOPPED":
                return str(stopped[0])
            return None

        victim = wait_for(first_stopped, timeout=60, what="phase 2 stops a service", interval=0.05)
        os.kill(run.pid, signal.SIGKILL)
        assert run.wait(timeout=10) == -signal.SIGKILL
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    killed_at = time.monotonic()
    left = journal(fleet)
    assert left["status"] == "running", left
    states = {name: state for name, (state, _) in fleet.process_states().items()}
    down = sorted(name for name, state in states.items() if state != "RUNNING")
    assert victim in down
    assert fleet.layout.run_dir.joinpath("restartctl", "trading.lock").read_text(), "no owner"

    refused = fleet.restartctl("run", "--force-window")
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "restartctl recover" in refused.stderr, refused.stderr

    report_path = tmp_path / "recover.json"
    started = time.monotonic()
    recovered = fleet.restartctl("recover", "--report", str(report_path))
    recover_s = time.monotonic() - started
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    report = read_report(report_path)
    assert report["outcome"] == "recovered"
    assert any(f"pid {run.pid}" in note and "stale lock" in note for note in report["notes"]), (
        report["notes"]
    )
    assert journal(fleet)["status"] == "recovered"
    assert {state for state, _ in fleet.process_states().values()} == {"RUNNING"}
    for name in SERVICES:
        assert not fleet.get(name, "/health")["paused"], f"{name} is still paused"
    wait_for_trading(fleet, signals=20)
    back_after = time.monotonic() - killed_at
    run_record = last_run(fleet)
    assert run_record["outcome"] == "recovered", run_record

    audit = audit_after_quiesce(fleet)
    figures.update(
        killed_after=f"{victim} stopped",
        down_when_killed=", ".join(down),
        recover_s=round(recover_s, 1),
        trading_again_after_kill_s=round(back_after, 1),
        started_by_recover=", ".join(n for n, s in report["services"].items() if s["start"]),
        signals_generated=audit.generated,
        signals_executed=audit.executed,
        lost=len(audit.lost),
        duplicate_fills=len(audit.duplicates),
    )
