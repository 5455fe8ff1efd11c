"""Checks the end-to-end scenarios share: waiting, the trading audit, the restart history."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fleet_services.supervised import Audit, SupervisedFleet

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy; fail saying ``what`` never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s (last: {value!r})")
        time.sleep(interval)


def generated(fleet: SupervisedFleet) -> int:
    return int(fleet.get("ai-engine", "/signals/stats")["generated"])


def wait_for_trading(fleet: SupervisedFleet, *, signals: int = 20, timeout: float = 30) -> int:
    """Wait until ai-engine has produced ``signals`` more signals; returns the new count."""
    start = generated(fleet)
    return wait_for(
        lambda: generated(fleet) >= start + signals and generated(fleet),
        timeout=timeout,
        what=f"{signals} new signals",
    )


def audit_after_quiesce(fleet: SupervisedFleet) -> Audit:
    """Stop signal generation, let execution finish everything, and check the books.

    Every signal generated was executed exactly once, no order was filled twice, signal
    ids never repeat (ai-engine's sequence survived the restarts), and execution's
    positions equal what the recorded orders imply (its saved positions were restored).
    """
    fleet.quiesce()
    audit = fleet.audit()
    assert audit.generated > 0
    assert len(set(audit.signals)) == len(audit.signals), "a signal id was generated twice"
    assert audit.lost == [], f"{len(audit.lost)} signals never executed: {audit.lost[:10]}"
    assert audit.duplicates == [], f"orders filled twice: {audit.duplicates[:10]}"
    assert fleet.get("execution", "/positions")["positions"] == audit.positions()
    return audit


def last_run(fleet: SupervisedFleet, *, timeout: float = 20) -> dict[str, Any]:
    """monitoring-health's record of the latest restart run, once it has ended."""

    def ended() -> dict[str, Any] | None:
        runs = fleet.get("monitoring-health", "/restarts")["runs"]
        return runs[-1] if runs and runs[-1]["outcome"] else None

    return wait_for(ended, timeout=timeout, what="monitoring-health records the run's end")


def read_report(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def phase_window(report: dict[str, Any], number: int) -> tuple[float, float]:
    """Phase ``number``'s start and end as Unix timestamps."""
    started = dt.datetime.fromisoformat(report["started_at"]).timestamp()
    phase = next(p for p in report["phases"] if p["number"] == number)
    return started + phase["start_s"], started + phase["start_s"] + phase["duration_s"]


def phase_durations(report: dict[str, Any]) -> str:
    return ", ".join(f"{p['number']} {p['duration_s']:.1f}s" for p in report["phases"])
