"""The daily restart over real services: three SDK apps under uvicorn, the http backend.

Each scenario starts the fleet, drives it with ``restartctl`` (CliRunner, or a
real process for the SIGKILL case) and checks the services, the journal, the
report and the events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from restart_orchestrator.cli import cli
from tests.orchestrator.fleet_support import TOKEN, LiveFleet

pytestmark = pytest.mark.slow


@pytest.fixture
def live(
    tmp_path: Path, redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveFleet]:
    monkeypatch.setenv("TEST_ADMIN_TOKEN", TOKEN)
    fleet = LiveFleet(tmp_path, redis_url, key_prefix)
    fleet.write()
    fleet.start_all()
    try:
        yield fleet
    finally:
        fleet.kill_all()


def restartctl(live: LiveFleet, *args: str) -> Result:
    return CliRunner().invoke(cli, [args[0], "-c", str(live.config), "--output", "json", *args[1:]])


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture(params=["http", "command", "supervisor"])
def any_backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_url: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveFleet]:
    """The live fleet under each of the two process-level backends."""
    monkeypatch.setenv("TEST_ADMIN_TOKEN", TOKEN)
    fleet = LiveFleet(tmp_path, redis_url, key_prefix)
    fleet.write(backend_kind=request.param)
    fleet.start_all()
    try:
        yield fleet
    finally:
        fleet.kill_all()


def test_full_run_restarts_every_service_in_order(any_backend: LiveFleet, tmp_path: Path) -> None:
    """1. the fleet runs, ai-engine has filled an order
    2. restartctl run (report, metrics, timeline), services under the http backend
       (admin API + detached launch), the command backend (shell commands) or a
       real supervisord
    Result: new processes, stops in reverse and starts in dependency order, state
    restored, ai paused then resumed, events published, exit 0."""
    live = any_backend
    httpx.post(live.url("ai") + "/orders/o-1", params={"seconds": 0}, timeout=5)
    time.sleep(0.2)
    old = {name: live.pid(name) for name in ("risk", "execution", "ai")}
    report = tmp_path / "report.json"
    result = restartctl(
        live,
        "run",
        "--report",
        str(report),
        "--metrics-file",
        str(tmp_path / "restartctl.prom"),
        "--timeline",
        str(tmp_path / "t.svg"),
    )
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    stopped = [line["service"] for line in lines if line.get("action") == "stopped"]
    ready = [line["service"] for line in lines if line.get("action") == "ready"]
    assert stopped == ["ai", "execution", "risk"]
    assert ready == ["risk", "execution", "ai"]
    for name, pid in old.items():
        assert live.pid(name) != pid
        assert live.health(name)["state"] == "ready"
    book = live.book("ai")
    assert book["restored"]
    assert book["filled"] == ["o-1"]
    assert book["paused"] is False
    data = json.loads(report.read_text())
    assert data["outcome"] == "completed"
    assert data["exit_code"] == 0
    assert [p["name"] for p in data["phases"]] == [
        "pre-restart",
        "graceful-shutdown",
        "infrastructure-checks",
        "startup",
        "verify",
    ]
    assert data["services"]["ai"]["paused"]
    assert data["services"]["ai"]["resumed"]
    assert data["orders_lost"] == {}
    assert {c["name"] for c in data["checks"]} == {"redis"}
    assert "restartctl_run_success" in (tmp_path / "restartctl.prom").read_text()
    assert (tmp_path / "t.svg").read_text().startswith("<svg")
    assert json.loads(live.journal.read_text())["status"] == "completed"
    events = live.events()
    assert events[0] == "restart.scheduled"
    assert events[-1] == "restart.completed"
    assert events.count("service.stopped") == 3
    assert events.count("service.started") == 3


def test_gate_blocking_then_clearing_delays_the_run(live: LiveFleet, tmp_path: Path) -> None:
    """1. execution reports 2 active orders
    2. restartctl run; the orders finish 1.5 s later
    Result: the run waits for the gate, then restarts everything; the wait is reported."""
    live.set_flag("execution", "block")
    threading.Timer(1.5, live.set_flag, ("execution", "block", False)).start()
    report = tmp_path / "report.json"
    result = restartctl(live, "run", "--report", str(report))
    assert result.exit_code == 0, result.output
    gate = json.loads(report.read_text())["gate"]
    assert gate["waited_s"] >= 1.0
    assert gate["blocked"] == {"execution": ["2 active orders"]}


def test_gate_that_never_clears_changes_nothing_and_exits_3(live: LiveFleet) -> None:
    """1. execution reports 2 active orders for longer than the gate bound
    2. restartctl run
    Result: exit 3, same processes, ai resumed, restart.blocked published."""
    live.write(gate_wait="1s")
    live.set_flag("execution", "block")
    old = {name: live.pid(name) for name in ("risk", "execution", "ai")}
    result = restartctl(live, "run")
    assert result.exit_code == 3, result.output
    assert "restart gate still closed after 1s (execution: 2 active orders)" in result.output
    assert {name: live.pid(name) for name in old} == old
    assert live.book("ai")["paused"] is False
    assert live.book("ai")["paused_calls"] == 1
    assert live.book("ai")["resumed_calls"] == 1
    assert json.loads(live.journal.read_text())["status"] == "blocked"
    assert live.events()[-1] == "restart.blocked"


def test_poisoned_snapshot_is_rolled_back_and_the_run_completes(
    live: LiveFleet, tmp_path: Path
) -> None:
    """1. execution keeps its snapshots in Redis and will save a poisoned one at
       shutdown (its restore refuses it)
    2. restartctl run
    Result: start fails, the retry fails, the previous snapshot is restored, the
    third attempt comes up; the run completes and the report says rolled back."""
    live.write(startup_deadline={"execution": "4s"}, state="redis")
    live.kill_all()  # bring the fleet up again on the Redis store
    live.start_all()
    live.set_flag("execution", "poison-on-save")
    report = tmp_path / "report.json"
    result = restartctl(live, "run", "--report", str(report))
    live.set_flag("execution", "poison-on-save", False)
    assert result.exit_code == 0, result.output
    start = json.loads(report.read_text())["services"]["execution"]["start"]
    assert [a["ok"] for a in start["attempts"]] == [False, False, True]
    assert start["rolled_back"] is True
    assert live.book("execution")["restored"] is True


def test_service_that_never_becomes_ready_fails_the_run_with_trading_paused(
    live: LiveFleet, tmp_path: Path
) -> None:
    """1. execution will never become ready after its restart
    2. restartctl run
    Result: three attempts (the last after a rollback), exit 1, ai not started
    (it depends on execution), risk up and paused, journal failed, alert sent."""
    live.write(startup_deadline={"execution": "2s"}, shutdown_grace={"execution": "1s"})
    live.set_flag("execution", "never-ready")
    report = tmp_path / "report.json"
    result = restartctl(live, "run", "--report", str(report))
    assert result.exit_code == 1, result.output
    assert "execution did not come back" in result.output
    assert "trading left paused" in result.output
    data = json.loads(report.read_text())
    assert len(data["services"]["execution"]["start"]["attempts"]) == 3
    assert data["services"]["execution"]["start"]["rolled_back"] is True
    assert live.health("risk")["paused"] is True
    with pytest.raises(httpx.HTTPError):
        httpx.get(live.url("ai") + "/health", timeout=1)
    journal = json.loads(live.journal.read_text())
    assert journal["status"] == "failed"
    events = live.events()
    assert "restart.failed" in events
    assert events[-1] == "alert"
    # The next run refuses until the fleet is recovered.
    again = restartctl(live, "run")
    assert again.exit_code == 4
    assert "run `restartctl recover` first" in again.output
    # Recovery, once the cause is fixed, brings everything back and resumes trading.
    live.set_flag("execution", "never-ready", False)
    recovered = restartctl(live, "recover")
    assert recovered.exit_code == 0, recovered.output
    for name in ("risk", "execution", "ai"):
        assert live.health(name)["state"] == "ready"
    assert json.loads(live.journal.read_text())["status"] == "recovered"


def start_run_and_wait_for_phase_2(live: LiveFleet) -> tuple[subprocess.Popen[bytes], Any]:
    """A real `restartctl run` process, returned once it is stopping a service."""
    restartctl_bin = Path(sys.executable).parent / "restartctl"
    process = subprocess.Popen(
        [str(restartctl_bin), "run", "-c", str(live.config), "--output", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TEST_ADMIN_TOKEN": TOKEN},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            journal = json.loads(live.journal.read_text())
        except (FileNotFoundError, ValueError):
            journal = {}
        if journal.get("stopping"):
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the run never reached phase 2")
    return process, journal


def test_run_killed_mid_shutdown_is_recovered(live: LiveFleet) -> None:
    """1. ai-engine has an order in flight, so its drain takes a while
    2. restartctl run (a real process) is SIGKILLed during phase 2
    3. restartctl recover
    Result: everything stopped is started again in order, ai is resumed, the
    journal is marked recovered and the next run is allowed."""
    httpx.post(live.url("ai") + "/orders/slow", params={"seconds": 2.5}, timeout=5)
    process, journal = start_run_and_wait_for_phase_2(live)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert journal["phase"] == "graceful-shutdown"
    time.sleep(3.5)  # ai finishes its drain and exits on its own
    result = restartctl(live, "recover")
    assert result.exit_code == 0, result.output
    for name in ("risk", "execution", "ai"):
        assert live.health(name)["state"] == "ready"
    assert live.book("ai")["paused"] is False
    assert live.book("ai")["filled"] == ["slow"]
    assert json.loads(live.journal.read_text())["status"] == "recovered"
    assert restartctl(live, "recover").output.count("nothing to recover") == 1


def test_restart_one_service_handles_its_dependants(live: LiveFleet) -> None:
    """1. restartctl restart execution
    Result: ai (its dependant) is paused and stopped first, started after and
    resumed; risk is untouched."""
    risk_pid = live.pid("risk")
    old = {name: live.pid(name) for name in ("execution", "ai")}
    result = restartctl(live, "restart", "execution")
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    assert [x["service"] for x in lines if x.get("action") == "stopped"] == ["ai", "execution"]
    assert [x["service"] for x in lines if x.get("action") == "ready"] == ["execution", "ai"]
    assert next(x["service"] for x in lines if x.get("action") == "paused") == "ai"
    assert live.pid("risk") == risk_pid
    assert all(live.pid(name) != pid for name, pid in old.items())
    assert live.book("ai")["paused"] is False


def test_outside_the_window_nothing_is_touched_and_exit_is_4(live: LiveFleet) -> None:
    hour = (time.gmtime().tm_hour + 2) % 24
    live.write(window=f'start = "{hour:02d}:00"\nend = "{hour:02d}:30"')
    result = restartctl(live, "run")
    assert result.exit_code == 4
    assert "outside the restart window" in result.output
    assert not live.journal.exists()


def test_status_and_check_read_the_fleet(live: LiveFleet) -> None:
    status = CliRunner().invoke(cli, ["status", "-c", str(live.config), "--json"])
    assert status.exit_code == 0, status.output
    answer = json.loads(status.output)
    assert answer["last_run"] is None
    rows = answer["services"]
    assert [row["service"] for row in rows] == ["risk", "execution", "ai"]
    assert all(row["state"] == "ready" and row["ready"] for row in rows)
    table = CliRunner().invoke(cli, ["status", "-c", str(live.config)])
    assert table.output.splitlines()[0].split() == [
        "SERVICE",
        "STATE",
        "PAUSED",
        "IN-FLIGHT",
        "WORK",
        "READY",
        "PROCESS",
    ]
    assert "last run: none recorded" in table.output
    live.set_flag("risk", "block")
    check = CliRunner().invoke(cli, ["check", "-c", str(live.config)])
    assert check.exit_code == 3
    assert "BLOCKED: 2 active orders" in check.output
    assert "redis" in check.output


def test_orders_cut_by_the_drain_deadline_are_reported_as_lost(
    live: LiveFleet, tmp_path: Path
) -> None:
    """1. execution holds an order that needs far longer than its 3 s grace
    2. restartctl run, with a 1 s alert threshold on the run's duration
    Result: the run completes, the report lists the order as lost by execution,
    and an alert says the run took too long."""
    live.write(extra='[alerts]\nmax_run_duration = "1s"\n')
    httpx.post(live.url("execution") + "/orders/o-late", params={"seconds": 60}, timeout=5)
    report = tmp_path / "report.json"
    result = restartctl(live, "run", "--report", str(report))
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    [lost] = data["orders_lost"]["execution"]
    assert "o-late" in json.dumps(lost)
    assert any("abandoned" in alert for alert in data["alerts"])
    assert any("over the 1s threshold" in alert for alert in data["alerts"])
    assert live.events()[-2:] == ["restart.completed", "alert"]


def test_sigterm_mid_shutdown_leaves_trading_paused(live: LiveFleet) -> None:
    """1. ai-engine has an order in flight, so its drain takes a while
    2. restartctl run (a real process) gets SIGTERM during phase 2
    Result: exit 1, the services still up are paused, the journal stays open
    (failed) and `recover` brings the fleet back."""
    httpx.post(live.url("ai") + "/orders/slow", params={"seconds": 2.5}, timeout=5)
    process, _ = start_run_and_wait_for_phase_2(live)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 1
    journal = json.loads(live.journal.read_text())
    assert journal["status"] == "failed"
    assert "interrupted" in journal["reason"]
    assert live.health("risk")["paused"] is True
    time.sleep(3)  # ai finishes its drain
    result = restartctl(live, "recover")
    assert result.exit_code == 0, result.output
    assert all(live.health(n)["paused"] is False for n in ("risk", "execution", "ai"))


def test_refused_admin_token_stops_the_run_before_anything_is_paused(
    live: LiveFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1. the fleet file's token is not the services' token
    2. restartctl run
    Result: exit 2 naming the token field of each service, nothing paused, no journal."""
    monkeypatch.setenv("TEST_ADMIN_TOKEN", "wrong-token")
    result = restartctl(live, "run")
    assert result.exit_code == 2, result.output
    assert "services.risk.token_env: the service refused the admin token" in result.output
    assert "403" in result.output
    assert live.book("ai")["paused_calls"] == 0
    assert not live.journal.exists()


def test_emergency_restart_of_a_dead_service(live: LiveFleet) -> None:
    """1. execution's process is killed (SIGKILL)
    2. restartctl restart execution: refused, the gate cannot be asked (exit 3)
    3. restartctl restart execution --no-gate
    Result: execution is started again, ai (its dependant) is paused, stopped,
    started after it and resumed."""
    os.kill(live.pid("execution"), signal.SIGKILL)
    time.sleep(0.3)
    refused = restartctl(live, "restart", "execution")
    assert refused.exit_code == 3, refused.output
    assert "execution: GET /admin/can-restart failed" in refused.output
    result = restartctl(live, "restart", "execution", "--no-gate")
    assert result.exit_code == 0, result.output
    assert live.health("execution")["state"] == "ready"
    book = live.book("ai")
    assert book["paused"] is False
    assert book["restored"] is True
