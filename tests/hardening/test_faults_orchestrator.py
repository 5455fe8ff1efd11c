"""Faults around a daily restart: each has a named outcome and exit code.

Real uvicorn services driven by ``restartctl`` through the http and supervisor
backends; PostgreSQL is "down" by pointing the check at a closed port (the
machine's PostgreSQL is never stopped); Redis faults use a private Redis.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.conftest import FUZZ_APP, TOKEN, break_disk, repair_disk
from tests.hardening.fleets import TOKEN_ENV, MiniFleet, json_lines
from tests.support import free_port
from tests.support.infra import RedisServer
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MiniFleet]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    mini = MiniFleet(tmp_path)
    try:
        yield mini
    finally:
        mini.kill_all()


def test_postgres_down_at_the_infrastructure_check_leaves_trading_paused_exit_1(
    fleet: MiniFleet,
) -> None:
    """1. the fleet's PostgreSQL check points at a closed port
    2. restartctl run
    Result: exit 1, the reason names the postgres check; the service was restarted
    (its state restored) but left paused; `restartctl recover` resumes it (exit 0)."""
    closed = free_port()
    dsn = f"postgresql://postgres@127.0.0.1:{closed}/postgres"
    fleet.write(
        checks=[{"kind": "postgres", "name": "orders-db", "dsn": dsn, "timeout_s": 3}],
        service={"pause_first": True},
    )
    fleet.start_all()
    fleet.put_position("svc", "ETHUSDT", 7.0)
    old_pid = fleet.pid("svc")

    result = fleet.invoke("run", "--report", str(fleet.root / "report.json"))

    assert result.exit_code == 1, result.output
    assert "postgres check orders-db" in result.output
    assert "cannot connect" in result.output
    assert "trading left paused" in result.output
    assert fleet.pid("svc") != old_pid
    health = fleet.get("svc", "/health").json()
    assert (health["state"], health["paused"]) == ("paused", True)
    assert fleet.get("svc", "/positions").json()["ETHUSDT"] == 7.0
    report = json.loads((fleet.root / "report.json").read_text())
    assert (report["outcome"], report["exit_code"]) == ("failed", 1)
    assert json.loads(fleet.journal.read_text())["status"] == "failed"

    recovered = fleet.invoke("recover")

    assert recovered.exit_code == 0, recovered.output
    assert fleet.get("svc", "/health").json()["state"] == "ready"


def test_frozen_service_bounds_status_check_and_run(fleet: MiniFleet) -> None:
    """1. the service's process is frozen (SIGSTOP): it accepts connections, never answers
    2. restartctl status, check, run (gate bound 3 s, request timeout 1 s)
    Result: each returns within its bounds: status names it unreachable (exit 0),
    check exits 3 (the gate fails closed), run exits 3 at its read-only look at the
    gate, before the lock: nothing paused, nothing stopped, no journal; after
    SIGCONT the same process serves again and is not paused."""
    fleet.write(service={"pause_first": True, "request_timeout": "1s"})
    fleet.start_all()
    pid = fleet.pid("svc")
    os.kill(pid, signal.SIGSTOP)
    try:
        timings = {}
        results = {}
        for command in ("status", "check", "run"):
            started = time.monotonic()
            results[command] = fleet.invoke(command)
            timings[command] = round(time.monotonic() - started, 1)
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"\nfrozen service, seconds per command: {timings}")
    assert results["status"].exit_code == 0, results["status"].output
    assert "unreachable" in results["status"].output
    assert results["check"].exit_code == 3, results["check"].output
    assert "no answer from the gate" in results["check"].output
    assert results["run"].exit_code == 3, results["run"].output
    assert "restart gate: svc: GET /admin/can-restart failed: ReadTimeout" in results["run"].output
    assert "nothing was changed" in results["run"].output
    assert not fleet.journal.exists()
    assert timings["status"] < 20
    assert timings["check"] < 20
    assert timings["run"] < 40
    fleet.wait_ready("svc")
    assert fleet.pid("svc") == pid
    assert fleet.get("svc", "/health").json()["paused"] is False


def test_supervisord_not_running_fails_before_anything_is_stopped(fleet: MiniFleet) -> None:
    """1. the service runs, but the supervisord its backend names is not running
    2. restartctl run
    Result: exit 1 at the first stop, the reason names supervisord, its socket and the
    fix; the service was never stopped (same pid) but is left paused, the journal
    open; `restartctl recover` resumes it (exit 0)."""
    fleet.write(service={"pause_first": True})
    fleet.start_all()
    pid = fleet.pid("svc")
    missing = {"kind": "supervisor", "url": f"unix://{fleet.root}/no-supervisord.sock"}
    fleet.write(service={"pause_first": True, "backend": missing})

    result = fleet.invoke("run")

    assert result.exit_code == 1, result.output
    assert "supervisord not running" in result.output
    assert "no-supervisord.sock" in result.output
    assert "start it or fix the backend's url" in result.output
    assert fleet.pid("svc") == pid
    assert fleet.get("svc", "/health").json()["paused"] is True
    journal = json.loads(fleet.journal.read_text())
    assert (journal["status"], journal["stopped"]) == ("failed", [])

    recovered = fleet.invoke("recover")

    assert recovered.exit_code == 0, recovered.output
    assert fleet.get("svc", "/health").json()["paused"] is False
    assert fleet.pid("svc") == pid


def test_service_ignoring_sigterm_is_forced_and_its_saved_state_restored(
    fleet: MiniFleet,
) -> None:
    """1. a service under a real supervisord ignores SIGTERM (stopwaitsecs 2, grace 3 s)
    2. restartctl run
    Result: supervisord kills it after its stopwaitsecs; the stop is reported forced
    with an alert; the new process restores the snapshot saved in phase 1 (nothing
    of the saved state lost); exit 0."""
    from tests.orchestrator.backends.conftest import _program, running_supervisord

    port = free_port()
    fleet.ports = {"svc": port}
    workdir = Path(f"/tmp/sv-h{port}")
    workdir.mkdir()
    env = {
        "TEST_SERVICE": "svc",
        "SHUTDOWN_ADMIN_TOKEN": TOKEN,
        "SHUTDOWN_STATE_STORE": str(fleet.root / "state"),
        "TEST_IGNORE_SIGTERM": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    program = _program(
        "svc",
        f"{sys.executable} -m uvicorn {FUZZ_APP} --port {port} --log-level warning",
        stopwaitsecs=2,
        environment=",".join(f'{k}="{v}"' for k, v in env.items()),
        directory=str(REPO_ROOT),
    )
    with running_supervisord(workdir, [program], http_port=free_port(), sdk_port=port) as sv:
        backend = {"kind": "supervisor", "url": sv.socket_url, "program": "svc"}
        fleet.write(service={"backend": backend})
        fleet.wait_ready("svc")
        fleet.put_position("svc", "SOLUSDT", 3.5)
        old_pid = fleet.get("svc", "/admin/status").json()["pid"]

        result = fleet.invoke("run", "--report", str(fleet.root / "report.json"))

        assert result.exit_code == 0, result.output
        stopped = [line for line in json_lines(result.output) if line.get("action") == "stopped"]
        assert stopped[0]["forced"] is True
        report = json.loads((fleet.root / "report.json").read_text())
        assert "svc did not stop within its grace and was forced" in report["alerts"]
        assert report["services"]["svc"]["stop"]["forced"] is True
        status = fleet.get("svc", "/admin/status").json()
        assert status["pid"] != old_pid
        assert status["last_restore"]["ok"] is True
        assert fleet.get("svc", "/positions").json()["SOLUSDT"] == 3.5


def test_redis_restarted_during_a_run_loses_no_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_redis: RedisServer
) -> None:
    """1. two services (svc depends on base); state store, events and the Redis check
    all on one Redis; each save hook takes 1 s
    2. restartctl run; Redis stops when svc starts stopping and comes back once svc
    has stopped (svc's shutdown save falls in the outage; base's after it)
    Result: svc's snapshot goes to the fallback files and its new process restores it
    (newer than Redis's), drain report included; base saves to Redis; the Redis
    check passes; exit 0 (events lost in the outage are warnings only)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fleet = MiniFleet(tmp_path, services={"base": [], "svc": ["base"]})
    url = private_redis.url
    fleet.write(
        state_store=url,
        checks=[{"kind": "redis", "name": "redis", "url": url, "timeout_s": 3}],
        extra={"notifications": {"redis_url": url, "stream": "hardening:events"}},
        env={"TEST_SAVE_DELAY": "1"},
    )
    try:
        fleet.start_all()
        fleet.put_position("svc", "BTCUSDT", 2.25)
        fleet.put_position("base", "BTCUSDT", -2.25)
        old_pids = {name: fleet.pid(name) for name in fleet.services}

        run = fleet.spawn("run", "--output", "json")
        assert run.stdout is not None
        lines = []
        with run.stdout:
            for raw in run.stdout:
                lines.append(raw)
                event = json_lines(raw)
                if event and event[0].get("service") == "svc":
                    if event[0].get("action") == "stopping":
                        private_redis.stop()
                    elif event[0].get("action") == "stopped":
                        private_redis.start_again()
        code = run.wait(timeout=120)
        output = "".join(lines)

        assert code == 0, output
        assert "not written to stream" in output
        for name, pid in old_pids.items():
            assert fleet.pid(name) != pid
        svc = fleet.get("svc", "/admin/status").json()
        assert svc["last_restore"]["ok"] is True
        assert svc["previous_shutdown"] is not None, "the outage snapshot was not restored"
        assert svc["previous_shutdown"]["drained"] is True
        assert fleet.get("svc", "/positions").json()["BTCUSDT"] == 2.25
        assert fleet.get("base", "/positions").json()["BTCUSDT"] == -2.25
        assert list((fleet.root / "fallback").glob("svc.snapshot*.json"))
        assert not list((fleet.root / "fallback").glob("base.snapshot*.json"))
        assert "redis save failed" in fleet.log("svc")
    finally:
        fleet.kill_all()


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_state_store_disk_full_or_read_only_stops_the_run_before_anything_is_stopped(
    fleet: MiniFleet, small_disk: Path, fault: str
) -> None:
    """1. the file state store lives on a 64 KiB tmpfs; a good run saves to it
    2. the disk fills up (ENOSPC) or turns read-only (EROFS)
    3. restartctl run
    4. the disk is freed (or writable again); restartctl run
    Result: (3) exit 1 at phase 1's save, the reason names the service and the OS
    error; nothing was stopped (same pid), the paused service resumed, the last
    good snapshot intact; (4) exit 0 and the new process restores its positions."""
    store = small_disk / "state"
    fleet.write(state_store=str(store), service={"pause_first": True})
    fleet.start_all()
    fleet.put_position("svc", "ETHUSDT", 5.0)
    assert fleet.invoke("run").exit_code == 0
    good = (store / "svc.snapshot.json").read_bytes()
    pid = fleet.pid("svc")
    fleet.put_position("svc", "ETHUSDT", 6.0)
    break_disk(small_disk, fault)

    result = fleet.invoke("run", "--report", str(fleet.root / "report.json"))

    reason = "No space left on device" if fault == "full" else "Read-only file system"
    assert result.exit_code == 1, result.output
    assert "save-state failed: svc: POST /admin/save-state answered 500" in result.output
    assert reason in result.output
    assert "nothing was stopped, paused services resumed" in result.output
    assert fleet.pid("svc") == pid
    assert fleet.get("svc", "/health").json()["paused"] is False
    assert (store / "svc.snapshot.json").read_bytes() == good
    assert not [p.name for p in store.iterdir() if p.name.endswith(".tmp")]  # none left behind
    report = json.loads((fleet.root / "report.json").read_text())
    assert (report["outcome"], report["exit_code"]) == ("failed", 1)
    assert json.loads(fleet.journal.read_text())["status"] == "aborted"

    repair_disk(small_disk, fault)
    again = fleet.invoke("run")

    assert again.exit_code == 0, again.output
    assert fleet.pid("svc") != pid
    assert fleet.get("svc", "/positions").json()["ETHUSDT"] == 6.0
