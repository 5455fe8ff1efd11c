from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleet_services.supervised import SupervisedFleet
from tests.e2e.fleet_checks import (
    audit_after_quiesce,
    last_run,
    read_report,
    wait_for,
    wait_for_trading,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def hold_order(fleet: SupervisedFleet, pool: ThreadPoolExecutor, name: str) -> Future[Any]:
    """Place an order whose fill stays pending until released; wait until it is pending."""

    def place() -> Any:
        body = {"symbol": "ETHUSDT", "side": "buy", "qty": 2, "client_order_id": name, "hold": True}
        response = httpx.post(fleet.layout.url("execution") + "/orders", json=body, timeout=180)
        response.raise_for_status()
        return response.json()

    answer = pool.submit(place)
    wait_for(
        lambda: f"http-{name}" in fleet.get("execution", "/orders/stats")["held"],
        timeout=10,
        what="the order's fill is pending",
    )
    return answer


def release(fleet: SupervisedFleet, name: str) -> None:
    with fleet.client("execution") as execution:
        execution.post(f"/exchange/release/http-{name}").raise_for_status()


def test_an_open_order_holds_the_restart_until_it_completes(
    start_fleet: Callable[..., SupervisedFleet],
    pool: ThreadPoolExecutor,
    tmp_path: Path,
    figures: dict[str, Any],
) -> None:
    """1. An order is placed whose exchange fill stays pending.
    2. ``restartctl run`` starts: phase 1 pauses ai-engine and asks the restart gate.
    3. For a few seconds the gate stays closed ("1 pending fills"); nothing is stopped.
    4. The fill is confirmed; the order's request is answered.
    Result: the run goes on and completes (exit 0); the order was filled once.
    """
    fleet = start_fleet()
    wait_for_trading(fleet, signals=10)
    pids = fleet.process_states()
    answer = hold_order(fleet, pool, "held-until-released")

    report_path = tmp_path / "report.json"
    run = fleet.restartctl_background(
        "run", "--force-window", "--report", str(report_path), log=tmp_path / "run.log"
    )
    try:
        wait_for(
            lambda: fleet.get("ai-engine", "/health")["paused"],
            timeout=20,
            what="phase 1 pauses ai-engine",
        )
        time.sleep(3)
        assert run.poll() is None, (tmp_path / "run.log").read_text()
        assert fleet.process_states() == pids, "a service was stopped while the gate was closed"
        gate = fleet.admin("execution", "GET", "/admin/can-restart")
        assert gate["reasons"] == ["1 pending fills"]
        release(fleet, "held-until-released")
        order = answer.result(timeout=30)
        assert order["status"] == "filled"
        assert run.wait(timeout=180) == 0, (tmp_path / "run.log").read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()

    report = read_report(report_path)
    assert report["gate"]["waited_s"] >= 3
    audit = audit_after_quiesce(fleet)
    assert audit.fills.count("http-held-until-released") == 1
    figures.update(
        gate_waited_s=report["gate"]["waited_s"],
        gate_polls=report["gate"]["polls"],
        restart_s=report["duration_s"],
        signals_executed=audit.executed,
        lost=len(audit.lost),
    )


def test_an_order_that_never_completes_blocks_the_restart(
    start_fleet: Callable[..., SupervisedFleet],
    pool: ThreadPoolExecutor,
    tmp_path: Path,
    figures: dict[str, Any],
) -> None:
    """1. An order is placed whose exchange fill stays pending.
    2. ``restartctl run`` with a 4 s gate bound.
    Result: exit 3 (blocked): no service was stopped (same processes), ai-engine is
    resumed and trading goes on; monitoring-health records the run as blocked; the
    order is answered once its fill comes.
    """
    fleet = start_fleet(gate_max_wait="4s")
    wait_for_trading(fleet, signals=10)
    pids = fleet.process_states()
    answer = hold_order(fleet, pool, "never-filled")

    report_path = tmp_path / "report.json"
    started = time.monotonic()
    result = fleet.restartctl("run", "--force-window", "--report", str(report_path))
    took = time.monotonic() - started
    assert result.returncode == 3, result.stdout + result.stderr

    report = read_report(report_path)
    assert report["outcome"] == "blocked"
    assert report["gate"]["blocked"] == {"execution": ["1 pending fills"]}
    assert fleet.process_states() == pids
    assert not fleet.get("ai-engine", "/health")["paused"]
    wait_for_trading(fleet, signals=10)
    assert last_run(fleet)["outcome"] == "blocked"

    release(fleet, "never-filled")
    assert answer.result(timeout=30)["status"] == "filled"
    audit = audit_after_quiesce(fleet)
    figures.update(
        run_s=round(took, 1),
        exit_code=result.returncode,
        gate_polls=report["gate"]["polls"],
        signals_executed=audit.executed,
        lost=len(audit.lost),
    )
